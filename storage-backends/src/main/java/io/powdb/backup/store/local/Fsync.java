package io.powdb.backup.store.local;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Durability helpers for code that publishes files by rename or link. */
public final class Fsync {
    private Fsync() {
    }

    /**
     * Makes a directory's entries durable (after a rename, link or create in it). Filesystems that cannot
     * open a directory for fsync are tolerated: there the rename is still atomic, only not yet durable.
     */
    public static void directory(Path dir) throws IOException {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (FileSystemException e) {
            // not supported here; see above
        }
    }
}
