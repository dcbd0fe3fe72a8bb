package io.powdb.backup.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.powdb.backup.testing.PowDbFixture;
import io.powdb.backup.testing.PowDbFixture.Version;
import io.powdb.backup.testing.WalWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class WalFollowerTest {
    @TempDir
    Path tmp;

    private PowDbFixture fixture(Version v, long seed) throws IOException {
        PowDbFixture f = PowDbFixture.create(tmp.resolve("db"), v, seed);
        f.createTable("t", 6);
        return f;
    }

    /** A follower that has already read the fixture's current WAL (its first generation). */
    private FollowerView following(PowDbFixture f) throws IOException {
        FollowerView view = new FollowerView(f.walPath());
        WalPoll first = view.poll();
        assertEquals(Continuity.FOLLOWER_START, first.generationStart().orElseThrow().continuity());
        assertFalse(first.gapPossible());
        view.assertMatchesFile();
        return view;
    }

    private static int headerLength(Version v) {
        return v == Version.V0_5 ? 8 : 0;
    }

    // ------------------------------------------------------------------ growth

    @ParameterizedTest
    @EnumSource(Version.class)
    void followsAWalWrittenInManySmallPiecesEmittingOnlyCompleteRecords(Version v) throws IOException {
        PowDbFixture ref = PowDbFixture.create(tmp.resolve("ref"), v, 21);
        ref.createTable("t", 4);
        ref.createTable("u", 2);
        ref.updateRandomPages("t", 2);
        ref.appendPages("u", 1);
        ref.truncateTable("u", 2);
        byte[] bytes = Files.readAllBytes(ref.walPath());

        Path wal = tmp.resolve("live").resolve("wal.log");
        Files.createDirectories(wal.getParent());
        Files.write(wal, new byte[0]);
        FollowerView view = new FollowerView(wal, 64); // a buffer smaller than most records
        assertEquals(WalPoll.Change.NONE, view.poll().change());
        Random rnd = new Random(v.ordinal());
        int incomplete = 0;
        for (int pos = 0; pos < bytes.length; ) {
            int n = Math.min(bytes.length - pos, 1 + rnd.nextInt(300));
            WalTestFiles.append(wal, Arrays.copyOfRange(bytes, pos, pos + n));
            pos += n;
            WalPoll p = view.poll();
            assertTrue(p.generationEnd().isEmpty() && p.rollback().isEmpty(), "only growth: " + p);
            assertEquals(1, p.generation());
            view.assertMatchesFile();
            assertEquals(pos - view.follower.readOffset(), p.pendingBytes());
            assertEquals(p.pendingBytes() == 0 ? WalStop.END : WalStop.INCOMPLETE, p.tail());
            if (p.tail() == WalStop.INCOMPLETE) {
                incomplete++;
            }
        }
        assertTrue(incomplete > 10, "pieces split records (and the 0.5 header): " + incomplete);
        assertEquals(FollowerView.describeFixture(WalTestFiles.fixtureParse(ref.walPath())),
                FollowerView.describe(view.current));
        List<GenerationStart> starts = view.polls.stream().flatMap(p -> p.generationStart().stream()).toList();
        assertEquals(1, starts.size());
        // It began on an empty file: what was appended and checkpointed before the first record is unknowable.
        assertEquals(Continuity.UNKNOWN_PREDECESSOR, starts.get(0).continuity());
        assertTrue(starts.get(0).gapPossible());
        assertEquals(ref.lastLsn(), view.follower.stableLsn().getAsLong());
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void aTornTailIsEmittedOnceALaterPollFindsItComplete(Version v) throws IOException {
        PowDbFixture f = fixture(v, 22);
        FollowerView view = following(f);
        long stable = f.lastLsn();
        byte[] rec = WalTestFiles.record(900, WalFormat.UPDATE, stable + 1, 300, 1);
        byte[] commit = WalTestFiles.record(900, WalFormat.COMMIT, stable + 2, 0, 2);

        WalTestFiles.append(f.walPath(), Arrays.copyOfRange(rec, 0, 10)); // not even a record header
        WalPoll p = view.poll();
        assertEquals(WalPoll.Change.NONE, p.change());
        assertEquals(WalStop.INCOMPLETE, p.tail());
        assertEquals(10, p.pendingBytes());
        WalTestFiles.append(f.walPath(), Arrays.copyOfRange(rec, 10, 100)); // header whole, payload not
        p = view.poll();
        assertEquals(WalPoll.Change.NONE, p.change());
        assertEquals(100, p.pendingBytes());
        WalTestFiles.append(f.walPath(), Arrays.copyOfRange(rec, 100, rec.length));
        p = view.poll();
        assertEquals(WalPoll.Change.GROWTH, p.change());
        assertEquals(List.of(stable + 1), p.records().stream().map(FollowedRecord::lsn).toList());
        assertEquals(WalStop.END, p.tail());
        assertEquals(stable, view.follower.stableLsn().getAsLong(), "an update alone is not stable");
        WalTestFiles.append(f.walPath(), commit);
        view.poll();
        assertEquals(stable + 2, view.follower.stableLsn().getAsLong());
        assertEquals(Files.size(f.walPath()), view.follower.stableOffset());
        view.assertMatchesFile();

        f.setNextLsn(stable + 3);
        f.appendTornWalTail(); // a crash mid-append
        p = view.poll();
        assertEquals(WalPoll.Change.NONE, p.change());
        assertEquals(WalStop.INCOMPLETE, p.tail());
        assertTrue(p.pendingBytes() > 0);
        view.assertMatchesFile();
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void aCorruptRecordHoldsTheFollowerBackUntilItIsWhole(Version v) throws IOException {
        PowDbFixture f = fixture(v, 23);
        FollowerView view = following(f);
        long before = Files.size(f.walPath());
        f.updatePages("t", v.firstDataPage(), v.firstDataPage() + 1);
        byte[] good = Files.readAllBytes(f.walPath());
        List<WalRecord> records = WalTestFiles.readAll(f.walPath());
        WalRecord second = records.stream().filter(r -> r.offset() >= before).skip(1).findFirst().orElseThrow();
        WalTestFiles.flipByte(f.walPath(), second.offset() + 30);
        WalPoll p = view.poll();
        assertEquals(1, p.records().size(), "only the record before the bad one");
        assertEquals(WalStop.BAD_CRC, p.tail());
        assertEquals(Files.size(f.walPath()) - second.offset(), p.pendingBytes());
        Files.write(f.walPath(), good); // the write finishes: same file, whole bytes
        p = view.poll();
        assertEquals(WalPoll.Change.GROWTH, p.change());
        assertEquals(WalStop.END, p.tail());
        view.assertMatchesFile();
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void aRecordWhoseLsnDoesNotIncreaseIsNotEmitted(Version v) throws IOException {
        PowDbFixture f = fixture(v, 24);
        FollowerView view = following(f);
        long last = f.lastLsn();
        WalTestFiles.append(f.walPath(), WalTestFiles.record(500, WalFormat.UPDATE, last, 40, 3));
        for (int i = 0; i < 2; i++) {
            WalPoll p = view.poll();
            assertEquals(WalPoll.Change.NONE, p.change());
            assertEquals(WalStop.LSN_NOT_INCREASING, p.tail());
            assertEquals(last, view.follower.lastSeenLsn().getAsLong());
        }
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void aRecordLimitSplitsCatchingUpIntoSeveralPolls(Version v) throws IOException {
        PowDbFixture f = fixture(v, 25);
        f.updateRandomPages("t", 3);
        FollowerView view = new FollowerView(f.walPath());
        int polls = 0;
        WalPoll p;
        do {
            p = view.follower.poll(7);
            view.polls.add(p);
            view.current.addAll(p.records());
            assertTrue(p.records().size() <= 7);
            assertEquals(polls == 0, p.generationStart().isPresent());
            polls++;
        } while (p.pollAgainNow());
        assertEquals(WalStop.END, p.tail());
        long records = WalTestFiles.fixtureParse(f.walPath()).size();
        assertEquals((records + 6) / 7 + (records % 7 == 0 ? 1 : 0), polls);
        view.assertMatchesFile();
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void aRewriteBetweenTheCheckAndTheReadIsNotTakenForGrowth(Version v) throws IOException {
        PowDbFixture f = fixture(v, 26);
        FollowerView view = following(f);
        long stable = f.lastLsn();
        long resumeAt = view.follower.readOffset();
        int header = headerLength(v);
        f.updatePages("t", v.firstDataPage(), v.firstDataPage() + 1); // appended: the poll will see the file grow
        long grownTo = Files.size(f.walPath());
        long next = f.lastLsn() + 1;
        // Between the follower's check and its read: a checkpoint, then a new generation laid out so that a
        // valid commit fills exactly [resumeAt, grownTo), with an LSN above the last one the follower saw.
        view.follower.beforeReading = () -> {
            f.checkpoint();
            WalTestFiles.append(f.walPath(), WalTestFiles.record(800, WalFormat.UPDATE, next,
                    (int) (resumeAt - header - WalFormat.RECORD_HEADER_SIZE), 8));
            WalTestFiles.append(f.walPath(), WalTestFiles.record(800, WalFormat.COMMIT, next + 1,
                    (int) (grownTo - resumeAt - WalFormat.RECORD_HEADER_SIZE), 9));
            assertEquals(grownTo, Files.size(f.walPath()));
        };
        WalPoll p = view.poll();
        view.follower.beforeReading = null;
        assertEquals(WalStop.CHANGED_WHILE_READING, p.tail());
        assertTrue(p.records().isEmpty(), "the commit at the resume offset belongs to the next generation");
        assertTrue(p.pollAgainNow());
        assertEquals(stable, view.follower.stableLsn().getAsLong());

        p = view.poll();
        assertEquals(GenerationEnd.Reason.CONTENT_CHANGED, p.generationEnd().orElseThrow().reason());
        // The updates appended before the checkpoint were never emitted: a gap, and said so.
        assertEquals(Continuity.LSN_GAP, p.generationStart().orElseThrow().continuity());
        assertEquals(List.of(next, next + 1), p.records().stream().map(FollowedRecord::lsn).toList());
        view.assertMatchesFile();
    }

    // ------------------------------------------------------------------ rollback

    @ParameterizedTest
    @EnumSource(Version.class)
    void aRollbackOfRecordsTheFollowerSawDropsThem(Version v) throws IOException {
        PowDbFixture f = fixture(v, 31);
        FollowerView view = following(f);
        long stable = f.lastLsn();
        long length = f.appendUncommittedUpdates("t", v.firstDataPage(), v.firstDataPage() + 2);
        long uncommitted = f.lastLsn() - stable;
        WalPoll seen = view.poll();
        assertEquals(uncommitted, seen.records().size());
        assertEquals(stable, view.follower.stableLsn().getAsLong(), "uncommitted records are not stable");
        assertEquals(length, view.follower.stableOffset());
        assertEquals(f.lastLsn(), view.follower.lastSeenLsn().getAsLong());

        f.rollbackWal(length);
        WalPoll p = view.poll();
        assertEquals(WalPoll.Change.ROLLBACK, p.change());
        WalRollback rb = p.rollback().orElseThrow();
        assertEquals(length, rb.newEndOffset());
        assertEquals(uncommitted, rb.droppedRecords());
        assertEquals(f.lastLsn(), rb.lastDroppedLsn());
        assertEquals(stable, rb.lastRetainedLsn());
        assertEquals(1, rb.generation());
        assertTrue(p.records().isEmpty());
        assertEquals(stable, view.follower.lastSeenLsn().getAsLong());
        view.assertMatchesFile();

        f.updatePages("t", v.firstDataPage() + 1);
        p = view.poll();
        assertEquals(WalPoll.Change.GROWTH, p.change());
        assertEquals(length, p.records().get(0).offset());
        assertEquals(1, p.generation());
        view.assertMatchesFile();
        assertEquals(f.lastLsn(), view.follower.stableLsn().getAsLong());
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void aRollbackTheFollowerNeverSawChangesNothing(Version v) throws IOException {
        PowDbFixture f = fixture(v, 32);
        FollowerView view = following(f);
        long stable = f.lastLsn();
        long length = f.appendUncommittedUpdates("t", v.firstDataPage());
        long skipped = f.lastLsn() - stable;
        f.rollbackWal(length);
        assertEquals(WalPoll.Change.NONE, view.poll().change());
        f.updatePages("t", v.firstDataPage());
        WalPoll p = view.poll();
        assertEquals(WalPoll.Change.GROWTH, p.change());
        // The fixture does not reuse rolled-back LSNs: the next record skips them. Within one generation the
        // offsets prove continuity, so this is no gap.
        assertEquals(stable + skipped + 1, p.records().get(0).lsn());
        assertFalse(p.gapPossible());
        view.assertMatchesFile();
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void aRollbackFollowedByALongerTransactionBetweenPollsIsStillARollback(Version v) throws IOException {
        PowDbFixture f = fixture(v, 33);
        FollowerView view = following(f);
        long length = f.appendUncommittedUpdates("t", v.firstDataPage());
        view.poll();
        long sizeSeen = Files.size(f.walPath());
        f.rollbackWal(length);
        f.updatePages("t", v.firstDataPage(), v.firstDataPage() + 1, v.firstDataPage() + 2, v.firstDataPage() + 3);
        assertTrue(Files.size(f.walPath()) > sizeSeen, "the file grew past what the follower had read");
        WalPoll p = view.poll();
        assertEquals(WalPoll.Change.ROLLBACK, p.change());
        assertEquals(length, p.rollback().orElseThrow().newEndOffset());
        assertEquals(length, p.records().get(0).offset());
        view.assertMatchesFile();
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void aCutInsideATransactionDropsItsTailAndReEmitsWhatSurvived(Version v) throws IOException {
        PowDbFixture f = fixture(v, 34);
        FollowerView view = following(f);
        long length = f.appendUncommittedUpdates("t", v.firstDataPage(), v.firstDataPage() + 1,
                v.firstDataPage() + 2, v.firstDataPage() + 3);
        WalPoll seen = view.poll();
        assertTrue(seen.records().size() >= 4);
        FollowedRecord txFirst = seen.records().get(0);
        FollowedRecord txSecond = seen.records().get(1);
        assertEquals(length, txFirst.offset());
        // PowDB cuts at a transaction's start; a cut inside one (a savepoint, say) is handled conservatively.
        WalTestFiles.truncate(f.walPath(), txSecond.end());
        WalPoll p = view.poll();
        WalRollback rb = p.rollback().orElseThrow();
        assertEquals(txFirst.end(), rb.newEndOffset(), "back to the transaction's first record, the last known cut point");
        assertEquals(seen.records().size() - 1, rb.droppedRecords());
        assertEquals(List.of(txSecond.lsn()), p.records().stream().map(FollowedRecord::lsn).toList(),
                "the surviving record is read again");
        view.assertMatchesFile();
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void rollingBackTheNewerOfTwoOpenTransactionsCutsExactlyAtItsStart(Version v) throws IOException {
        PowDbFixture f = fixture(v, 35);
        FollowerView view = following(f);
        long startA = f.appendUncommittedUpdates("t", v.firstDataPage(), v.firstDataPage() + 1);
        long sizeA = f.lastLsn();
        long startB = f.appendUncommittedUpdates("t", v.firstDataPage() + 2, v.firstDataPage() + 3);
        long recordsB = f.lastLsn() - sizeA;
        view.poll();
        f.rollbackWal(startB);
        WalPoll p = view.poll();
        assertEquals(startB, p.rollback().orElseThrow().newEndOffset());
        assertEquals(recordsB, p.rollback().orElseThrow().droppedRecords());
        assertEquals(sizeA, p.rollback().orElseThrow().lastRetainedLsn());
        assertTrue(p.records().isEmpty());
        view.assertMatchesFile();
        f.rollbackWal(startA);
        p = view.poll();
        assertEquals(startA, p.rollback().orElseThrow().newEndOffset());
        view.assertMatchesFile();
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void aCutBelowAnEmittedCommitIsNotARollback(Version v) throws IOException {
        PowDbFixture f = fixture(v, 36);
        FollowerView view = following(f);
        List<WalRecord> commits = WalTestFiles.readAll(f.walPath()).stream().filter(WalRecord::isCommit).toList();
        assertTrue(commits.size() >= 3);
        WalTestFiles.truncate(f.walPath(), commits.get(1).end());
        WalPoll p = view.poll();
        assertEquals(GenerationEnd.Reason.CUT_BELOW_COMMIT, p.generationEnd().orElseThrow().reason());
        // Reading again from the start finds records the follower already emitted, LSNs that went back.
        assertEquals(Continuity.LSN_WENT_BACK, p.generationStart().orElseThrow().continuity());
        assertTrue(p.gapPossible());
        view.assertMatchesFile();
    }

    // ------------------------------------------------------------------ generations

    @ParameterizedTest
    @EnumSource(Version.class)
    void aCheckpointSeenBetweenPollsProvesContinuity(Version v) throws IOException {
        PowDbFixture f = fixture(v, 41);
        FollowerView view = following(f);
        long stable = f.lastLsn();
        f.checkpoint();
        WalPoll p = view.poll();
        assertEquals(WalPoll.Change.NEW_GENERATION, p.change());
        GenerationEnd end = p.generationEnd().orElseThrow();
        assertEquals(GenerationEnd.Reason.TRUNCATED, end.reason());
        assertEquals(1, end.generation());
        assertEquals(stable, end.lastSeenLsn().getAsLong());
        assertEquals(stable, end.stableLsn().getAsLong());
        assertEquals(0, end.abandonedRecords());
        assertTrue(p.generationStart().isEmpty(), "no record yet to judge continuity by");
        assertEquals(2, p.generation());
        assertEquals(WalStop.END, p.tail());
        assertEquals(WalPoll.Change.NONE, view.poll().change(), "an empty generation stays quiet");

        f.updatePages("t", v.firstDataPage() + 2);
        p = view.poll();
        GenerationStart start = p.generationStart().orElseThrow();
        assertEquals(2, start.generation());
        assertEquals(stable + 1, start.firstLsn());
        assertEquals(Continuity.PROVEN, start.continuity());
        assertFalse(p.gapPossible());
        assertEquals(headerLength(v), p.records().get(0).offset());
        assertTrue(p.records().stream().allMatch(r -> r.generation() == 2));
        view.assertMatchesFile();
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void aCheckpointAndNewRecordsBetweenTwoPollsWithNothingMissedIsProven(Version v) throws IOException {
        PowDbFixture f = fixture(v, 42);
        FollowerView view = following(f);
        long stable = f.lastLsn();
        f.checkpoint();
        f.updatePages("t", v.firstDataPage() + 1);
        WalPoll p = view.poll();
        assertTrue(p.generationEnd().isPresent());
        assertEquals(stable + 1, p.generationStart().orElseThrow().firstLsn());
        assertEquals(Continuity.PROVEN, p.generationStart().orElseThrow().continuity());
        view.assertMatchesFile();
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void appendCheckpointAppendBetweenTwoPollsIsReportedAsAGap(Version v) throws IOException {
        PowDbFixture f = fixture(v, 43);
        FollowerView view = following(f);
        long stable = f.lastLsn();
        f.updatePages("t", v.firstDataPage()); // never seen: checkpointed away
        long missedUpTo = f.lastLsn();
        f.checkpoint();
        f.updatePages("t", v.firstDataPage() + 1);
        WalPoll p = view.poll();
        assertTrue(Set.of(GenerationEnd.Reason.TRUNCATED, GenerationEnd.Reason.CONTENT_CHANGED)
                .contains(p.generationEnd().orElseThrow().reason()), "" + p.generationEnd());
        GenerationStart start = p.generationStart().orElseThrow();
        assertEquals(missedUpTo + 1, start.firstLsn());
        assertEquals(Continuity.LSN_GAP, start.continuity());
        assertEquals(stable, start.previousStableLsn().getAsLong());
        assertTrue(p.gapPossible());
        view.assertMatchesFile();
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void aRestartTruncatesTheWalAndIsANewGeneration(Version v) throws IOException {
        PowDbFixture f = fixture(v, 44);
        FollowerView view = following(f);
        long stable = f.lastLsn();
        PowDbFixture restarted = PowDbFixture.open(f.dir(), v, 44);
        WalPoll p = view.poll();
        assertEquals(GenerationEnd.Reason.TRUNCATED, p.generationEnd().orElseThrow().reason());
        restarted.updatePages("t", v.firstDataPage());
        p = view.poll();
        GenerationStart start = p.generationStart().orElseThrow();
        // The fixture, like 0.4.x, sets the next LSN above the largest PAGE LSN. Commit records stamp no
        // page, so the last commit's LSN is handed out again: LSNs went back, continuity is not proven.
        assertEquals(stable, start.firstLsn());
        assertEquals(Continuity.LSN_WENT_BACK, start.continuity());
        assertTrue(p.gapPossible());
        view.assertMatchesFile();

        // Records written and replayed by a restart between two polls: a gap.
        restarted.updatePages("t", v.firstDataPage() + 1);
        view.poll();
        long seen = restarted.lastLsn();
        restarted.updatePages("t", v.firstDataPage() + 2);
        PowDbFixture again = PowDbFixture.open(f.dir(), v, 45);
        again.updatePages("t", v.firstDataPage() + 3);
        p = view.poll();
        assertTrue(p.generationEnd().isPresent());
        assertTrue(Long.compareUnsigned(p.generationStart().orElseThrow().firstLsn(), seen + 1) > 0);
        assertEquals(Continuity.LSN_GAP, p.generationStart().orElseThrow().continuity());
        view.assertMatchesFile();
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void aRollbackOfTheFirstTransactionOfAGenerationLooksLikeACheckpoint(Version v) throws IOException {
        for (boolean powDbReusesLsns : new boolean[] {false, true}) {
            Path dir = tmp.resolve("reuse-" + powDbReusesLsns);
            PowDbFixture f = PowDbFixture.create(dir, v, 46);
            f.createTable("t", 4);
            FollowerView view = following(f);
            long stable = f.lastLsn();
            f.checkpoint();
            view.poll();
            long length = f.appendUncommittedUpdates("t", v.firstDataPage(), v.firstDataPage() + 1);
            assertEquals(headerLength(v), length);
            long uncommitted = f.lastLsn() - stable;
            WalPoll p = view.poll();
            assertEquals(Continuity.PROVEN, p.generationStart().orElseThrow().continuity());

            f.rollbackWal(length); // back to empty / the header: indistinguishable from a checkpoint
            p = view.poll();
            GenerationEnd end = p.generationEnd().orElseThrow();
            assertEquals(GenerationEnd.Reason.TRUNCATED, end.reason());
            assertEquals(uncommitted, end.abandonedRecords());
            assertEquals(length, end.abandonedFromOffset());
            assertEquals(stable, end.stableLsn().getAsLong());

            if (powDbReusesLsns) {
                f.setNextLsn(stable + 1); // a PowDB that hands out the rolled-back LSNs again
            }
            f.updatePages("t", v.firstDataPage() + 2);
            p = view.poll();
            GenerationStart start = p.generationStart().orElseThrow();
            if (powDbReusesLsns) {
                assertEquals(stable + 1, start.firstLsn());
                assertEquals(Continuity.PROVEN, start.continuity(), "LSN continuity proves nothing was missed");
            } else {
                assertEquals(stable + uncommitted + 1, start.firstLsn());
                assertEquals(Continuity.LSN_GAP, start.continuity(), "unprovable: a checkpoint could have removed commits");
            }
            view.assertMatchesFile();
        }
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void aFollowerStartedOnAnEmptyWalCannotProveItsFirstRecordsPredecessor(Version v) throws IOException {
        PowDbFixture f = PowDbFixture.create(tmp.resolve("db"), v, 47);
        FollowerView view = new FollowerView(f.walPath());
        WalPoll p = view.poll();
        assertEquals(WalPoll.Change.NONE, p.change());
        assertEquals(1, p.generation());
        f.createTable("t", 3);
        p = view.poll();
        assertEquals(Continuity.UNKNOWN_PREDECESSOR, p.generationStart().orElseThrow().continuity());
        assertTrue(p.gapPossible());
        view.assertMatchesFile();
    }

    @Test
    void aMissingFileCountsAsEmpty() throws IOException {
        Path wal = tmp.resolve("wal.log");
        FollowerView view = new FollowerView(wal);
        assertEquals(WalPoll.Change.NONE, view.poll().change());
        Files.write(wal, WalWriter.fileHeader());
        WalTestFiles.append(wal, WalTestFiles.record(1, WalFormat.COMMIT, 10, 0, 1));
        WalPoll p = view.poll();
        assertEquals(Continuity.UNKNOWN_PREDECESSOR, p.generationStart().orElseThrow().continuity());
        Files.delete(wal);
        p = view.poll();
        assertEquals(GenerationEnd.Reason.TRUNCATED, p.generationEnd().orElseThrow().reason());
        assertEquals(0, p.pendingBytes());
    }

    @Test
    void anEmptyGenerationFollowsAChangeOfFormat() throws IOException {
        // 0.4 writes a record, crashes mid-append of the next; the directory is upgraded to 0.5, whose
        // restart truncates the log and writes the "PWAL" header. The empty generation takes the new format.
        Path wal = tmp.resolve("wal.log");
        Files.write(wal, WalTestFiles.record(1, WalFormat.COMMIT, 1, 0, 1));
        FollowerView view = new FollowerView(wal);
        view.poll();
        WalTestFiles.truncate(wal, 0);
        assertEquals(GenerationEnd.Reason.TRUNCATED, view.poll().generationEnd().orElseThrow().reason());
        WalTestFiles.append(wal, Arrays.copyOf(WalTestFiles.record(2, WalFormat.UPDATE, 2, 50, 2), 10));
        assertEquals(WalStop.INCOMPLETE, view.poll().tail()); // a 0.4 file, as far as 10 bytes tell
        Files.write(wal, WalWriter.fileHeader());
        WalTestFiles.append(wal, WalTestFiles.record(3, WalFormat.COMMIT, 2, 0, 3));
        WalPoll p = view.poll();
        assertEquals(List.of(8L), p.records().stream().map(FollowedRecord::offset).toList());
        assertEquals(Continuity.PROVEN, p.generationStart().orElseThrow().continuity());
        view.assertMatchesFile();
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void sameSizedContentWrittenInPlaceIsANewGeneration(Version v) throws IOException {
        PowDbFixture f = fixture(v, 48);
        FollowerView view = following(f);
        long stable = f.lastLsn();
        byte[] before = Files.readAllBytes(f.walPath());
        Object inode = Files.readAttributes(f.walPath(), BasicFileAttributes.class).fileKey();
        // Every record re-encoded with its LSN shifted by 1000: valid, the same length, other bytes.
        ByteArrayOutputStream other = new ByteArrayOutputStream();
        other.writeBytes(v.emptyWal());
        for (io.powdb.backup.testing.WalRecord r : WalTestFiles.fixtureParse(f.walPath())) {
            other.writeBytes(WalTestFiles.reencoded(r, r.lsn() + 1000, r.txId()));
        }
        assertEquals(before.length, other.size());
        WalTestFiles.overwrite(f.walPath(), 0, other.toByteArray());
        assertEquals(inode, Files.readAttributes(f.walPath(), BasicFileAttributes.class).fileKey());

        WalPoll p = view.poll();
        assertEquals(GenerationEnd.Reason.CONTENT_CHANGED, p.generationEnd().orElseThrow().reason());
        assertEquals(1001, p.generationStart().orElseThrow().firstLsn());
        assertEquals(Continuity.LSN_GAP, p.generationStart().orElseThrow().continuity());
        assertEquals(stable + 1000, view.follower.stableLsn().getAsLong());
        view.assertMatchesFile();
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void aRewrittenLastCommitIsCaughtThoughTheFirstRecordIsUnchanged(Version v) throws IOException {
        PowDbFixture f = fixture(v, 49);
        FollowerView view = following(f);
        List<io.powdb.backup.testing.WalRecord> records = WalTestFiles.fixtureParse(f.walPath());
        io.powdb.backup.testing.WalRecord last = records.get(records.size() - 1);
        assertEquals(WalWriter.COMMIT, last.type());
        WalTestFiles.overwrite(f.walPath(), last.offset(), WalTestFiles.reencoded(last, last.lsn(), last.txId() + 77));
        WalPoll p = view.poll();
        assertEquals(GenerationEnd.Reason.CONTENT_CHANGED, p.generationEnd().orElseThrow().reason());
        view.assertMatchesFile();
    }

    @Test
    void aChangedFileHeaderIsANewGeneration() throws IOException {
        PowDbFixture f = fixture(Version.V0_5, 50);
        FollowerView view = following(f);
        WalTestFiles.overwrite(f.walPath(), 6, new byte[] {1, 0}); // the flags
        assertEquals(GenerationEnd.Reason.CONTENT_CHANGED, view.poll().generationEnd().orElseThrow().reason());
        view.assertMatchesFile();
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void aFileReplacedByRenameIsANewGenerationEvenWithTheSameBytes(Version v) throws IOException {
        PowDbFixture f = fixture(v, 51);
        Object inode = Files.readAttributes(f.walPath(), BasicFileAttributes.class).fileKey();
        assumeTrue(inode != null, "the platform exposes no file identity");
        FollowerView view = following(f);
        Path copy = f.dir().resolve("wal.log.new");
        Files.copy(f.walPath(), copy);
        Files.move(copy, f.walPath(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        WalPoll p = view.poll();
        assertEquals(GenerationEnd.Reason.FILE_REPLACED, p.generationEnd().orElseThrow().reason());
        // Same records again: the follower re-emits them in generation 2 and does not call it continuous.
        assertEquals(1, p.generationStart().orElseThrow().firstLsn());
        assertTrue(p.gapPossible());
        view.assertMatchesFile();
    }

    // ------------------------------------------------------------------ shipping

    @ParameterizedTest
    @EnumSource(Version.class)
    void eachPollsRangeCopiesOutExactlyItsRecords(Version v) throws IOException {
        PowDbFixture f = PowDbFixture.create(tmp.resolve("db"), v, 52);
        FollowerView view = new FollowerView(f.walPath());
        ByteArrayOutputStream shipped = new ByteArrayOutputStream();
        shipped.writeBytes(v.emptyWal());
        f.createTable("t", 3);
        for (int round = 0; round < 4; round++) {
            WalPoll p = view.poll();
            WalRange range = p.range().orElseThrow();
            assertEquals(p.records().size(), range.recordCount());
            WalCopier.copy(f.walPath(), range, Channels.newChannel(shipped));
            f.updatePages("t", v.firstDataPage() + round % 2);
        }
        view.poll().range().ifPresent(r -> {
            try {
                WalCopier.copy(f.walPath(), r, Channels.newChannel(shipped));
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        });
        assertArrayEquals(Files.readAllBytes(f.walPath()), shipped.toByteArray());
        assertEquals(Files.size(f.walPath()), view.follower.stableOffset());
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void theStablePartOfAPollEndsOnItsLastCommit(Version v) throws IOException {
        PowDbFixture f = fixture(v, 53);
        FollowerView view = following(f);
        long committedEnd = Files.size(f.walPath());
        f.updatePages("t", v.firstDataPage());
        long stableEnd = Files.size(f.walPath());
        f.appendUncommittedUpdates("t", v.firstDataPage() + 1);
        WalPoll p = view.poll();
        WalRange stable = WalRange.upToLastCommit(p.records()).orElseThrow();
        assertEquals(committedEnd, stable.startOffset());
        assertEquals(stableEnd, stable.endOffset());
        assertEquals(stableEnd, view.follower.stableOffset());
        assertTrue(p.range().orElseThrow().endOffset() > stableEnd);
    }

    // ------------------------------------------------------------------ long runs

    @ParameterizedTest
    @EnumSource(Version.class)
    void pollingAfterEveryOperationNeverReportsAGapAndMissesNoCommit(Version v) throws IOException {
        PowDbFixture f = fixture(v, 61);
        FollowerView view = following(f);
        CommitLog commits = new CommitLog(f);
        Random rnd = new Random(61);
        for (int i = 0; i < 40; i++) {
            switch (rnd.nextInt(4)) {
                case 0 -> f.updateRandomPages("t", 1 + rnd.nextInt(3));
                case 1 -> f.appendPages("t", 1);
                case 2 -> f.checkpoint();
                default -> f.updatePages("t", v.firstDataPage());
            }
            commits.capture();
            WalPoll p = view.poll();
            assertFalse(p.gapPossible(), "step " + i + ": " + p);
            view.assertMatchesFile();
        }
        commits.assertAllEmitted(view);
    }

    /**
     * Random operations (commits, rollbacks seen or unseen, checkpoints, restarts) with polls at random
     * moments. Whatever happens, the follower's view matches the file after every poll, and every commit
     * it never emitted is reported: the first generation it starts after that commit vanished has a
     * continuity that is not proven. It never misses a commit silently.
     */
    @ParameterizedTest
    @EnumSource(Version.class)
    void underRandomOperationsNoCommitIsMissedWithoutAGapReport(Version v) throws IOException {
        int missed = 0;
        for (long seed = 1; seed <= 8; seed++) {
            Path dir = tmp.resolve("run" + seed);
            PowDbFixture f = PowDbFixture.create(dir, v, seed);
            f.createTable("t", 5);
            FollowerView view = new FollowerView(f.walPath(), 100 + (int) seed * 50);
            CommitLog commits = new CommitLog(f);
            commits.capture();
            Random rnd = new Random(seed);
            for (int step = 0; step < 60; step++) {
                int op = rnd.nextInt(10);
                if (op < 4) {
                    f.updateRandomPages("t", 1 + rnd.nextInt(3));
                } else if (op == 4) {
                    f.appendPages("t", 1);
                } else if (op == 5) {
                    long length = f.appendUncommittedUpdates("t", v.firstDataPage() + rnd.nextInt(4));
                    if (rnd.nextBoolean()) {
                        pollAndCheck(view, commits);
                    }
                    f.rollbackWal(length);
                } else if (op == 6 || op == 7) {
                    f.checkpoint();
                } else if (op == 8) {
                    f = PowDbFixture.open(dir, v, seed * 100 + step);
                    commits.fixture = f;
                }
                commits.capture();
                if (rnd.nextInt(3) > 0) {
                    pollAndCheck(view, commits);
                }
            }
            f.updatePages("t", v.firstDataPage()); // so a last generation change gets its verdict
            commits.capture();
            pollAndCheck(view, commits);
            missed += commits.assertMissedOnesAreReported(view);
        }
        assertTrue(missed > 0, "the runs did make the follower miss commits");
    }

    private static void pollAndCheck(FollowerView view, CommitLog commits) throws IOException {
        view.poll();
        view.assertMatchesFile();
        commits.polled();
    }
}
