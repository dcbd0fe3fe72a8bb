package io.powdb.backup.wal;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.powdb.backup.testing.PowDbFixture;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Every COMMIT record the fixture ever made durable, captured by parsing wal.log after each operation,
 * with the moment (capture number) it was first seen; and, per poll, how many captures preceded it. A
 * commit is identified by offset, LSN and tx id.
 */
final class CommitLog {
    PowDbFixture fixture;
    private final Map<String, Integer> firstCaptured = new LinkedHashMap<>();
    private final List<Integer> capturesBeforePoll = new ArrayList<>();
    private int captures;

    CommitLog(PowDbFixture fixture) {
        this.fixture = fixture;
    }

    void capture() throws IOException {
        for (io.powdb.backup.testing.WalRecord r : fixture.walRecords()) {
            if (r.type() == WalFormat.COMMIT) {
                firstCaptured.putIfAbsent(key(r.offset(), r.lsn(), r.txId()), captures);
            }
        }
        captures++;
    }

    /** Call right after each poll of the view. */
    void polled() {
        capturesBeforePoll.add(captures);
    }

    void assertAllEmitted(FollowerView view) {
        Set<String> emitted = emittedCommits(view);
        for (String c : firstCaptured.keySet()) {
            assertTrue(emitted.contains(c), "commit " + c + " was never emitted");
        }
    }

    /**
     * For every commit the follower never emitted (and that was not gone before its first poll): the first
     * generation start at or after the first poll following its capture must not claim proven continuity.
     * Returns how many commits were missed.
     */
    int assertMissedOnesAreReported(FollowerView view) {
        Set<String> emitted = emittedCommits(view);
        int missed = 0;
        for (Map.Entry<String, Integer> c : firstCaptured.entrySet()) {
            if (emitted.contains(c.getKey()) || c.getValue() < capturesBeforePoll.get(0)) {
                continue; // emitted, or gone before the follower started
            }
            missed++;
            int p = 0;
            while (capturesBeforePoll.get(p) <= c.getValue()) {
                p++;
            }
            GenerationStart verdict = null;
            for (int q = p; q < view.polls.size() && verdict == null; q++) {
                verdict = view.polls.get(q).generationStart().orElse(null);
            }
            assertTrue(verdict != null, "commit " + c.getKey() + " was missed and no generation start followed");
            assertTrue(verdict.gapPossible(), "commit " + c.getKey() + " was missed, yet " + verdict);
        }
        return missed;
    }

    private static Set<String> emittedCommits(FollowerView view) {
        Set<String> out = new HashSet<>();
        for (FollowedRecord r : view.everEmitted) {
            if (r.isCommit()) {
                out.add(key(r.offset(), r.lsn(), r.txId()));
            }
        }
        return out;
    }

    private static String key(long offset, long lsn, long txId) {
        return offset + "/" + lsn + "/" + txId;
    }
}
