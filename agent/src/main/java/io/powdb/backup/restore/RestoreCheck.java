package io.powdb.backup.restore;

import io.powdb.backup.progress.ProgressListener;
import io.powdb.backup.repo.FileEntry;
import io.powdb.backup.repo.Repository;

import java.io.IOException;
import java.nio.file.Path;

/** Does everything a restore of one file does except write it: what {@code verify} runs. */
public final class RestoreCheck {
    private final Repository repository;
    private final HeapAssembler heaps;

    public RestoreCheck(Repository repository, Path tempDir, ProgressListener progress) {
        this.repository = repository;
        this.heaps = new HeapAssembler(repository, tempDir, progress, "verify", -1);
    }

    public void check(String backupId, FileEntry file) throws IOException {
        if (file.isHeap()) {
            heaps.assemble(backupId, file, PageSink.DISCARD, true);
        } else {
            repository.readWhole(file, in -> { }); // a compressed object's content is checked against the file
        }
    }
}
