package io.powdb.backup.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a consumer of a {@link WalFollower} believes the current generation holds, rebuilt from the polls
 * alone (records appended, dropped by a rollback, cleared by a generation end). Tests compare it with the
 * file as the fixture's independent parser sees it.
 */
final class FollowerView {
    final WalFollower follower;
    final Path wal;
    final List<FollowedRecord> current = new ArrayList<>();
    final List<WalPoll> polls = new ArrayList<>();
    final List<FollowedRecord> everEmitted = new ArrayList<>();

    FollowerView(Path wal) {
        this(wal, WalReader.DEFAULT_BUFFER_SIZE);
    }

    FollowerView(Path wal, int bufferSize) {
        this.wal = wal;
        this.follower = new WalFollower(wal, bufferSize);
    }

    WalPoll poll() throws IOException {
        WalPoll p = follower.poll();
        polls.add(p);
        p.generationEnd().ifPresent(e -> current.clear());
        p.rollback().ifPresent(r -> current.removeIf(x -> x.offset() >= r.newEndOffset()));
        for (FollowedRecord r : p.records()) {
            assertEquals(p.generation(), r.generation());
            if (!current.isEmpty()) {
                assertEquals(current.get(current.size() - 1).end(), r.offset(), "records are emitted back to back");
            }
            current.add(r);
            everEmitted.add(r);
        }
        return p;
    }

    /** The view equals the whole records of the file, as the fixture parses them (offsets, LSNs, tx ids, types). */
    void assertMatchesFile() throws IOException {
        List<io.powdb.backup.testing.WalRecord> file = WalTestFiles.fixtureParse(wal);
        assertEquals(describeFixture(file), describe(current));
        assertTrue(current.stream().allMatch(r -> r.generation() == follower.generation()));
    }

    static List<String> describe(List<FollowedRecord> records) {
        List<String> out = new ArrayList<>();
        for (FollowedRecord r : records) {
            out.add(r.offset() + ":" + r.lsn() + ":" + r.txId() + ":" + r.type());
        }
        return out;
    }

    static List<String> describeFixture(List<io.powdb.backup.testing.WalRecord> records) {
        List<String> out = new ArrayList<>();
        for (io.powdb.backup.testing.WalRecord r : records) {
            out.add(r.offset() + ":" + r.lsn() + ":" + r.txId() + ":" + r.type());
        }
        return out;
    }
}
