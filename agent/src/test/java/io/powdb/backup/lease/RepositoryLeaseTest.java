package io.powdb.backup.lease;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.powdb.backup.Version;
import io.powdb.backup.repo.Json;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.store.BlobInfo;
import io.powdb.backup.store.BlobStore;
import io.powdb.backup.store.ForwardingBlobStore;
import io.powdb.backup.store.BlobWriter;
import io.powdb.backup.store.WriteMode;
import io.powdb.backup.store.local.LocalBlobStore;
import io.powdb.backup.store.s3.S3BlobStore;
import io.powdb.backup.store.s3.S3ProxyServer;
import io.powdb.backup.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RepositoryLeaseTest {
    private static final Duration TTL = Duration.ofSeconds(60);
    /** A quarter of the ttl: how long past expiry other agents still keep off. */
    private static final Duration MARGIN = Duration.ofSeconds(15);
    private static final Instant T0 = Instant.parse("2026-11-21T10:00:00Z");
    private static final String A = "host-a/1234-ab12";
    private static final String B = "host-b/5678-cd34";
    private static final int RACERS = 8;
    private static final int ROUNDS = 20;

    @TempDir
    Path tmp;
    private MutableClock clock;
    private Repository repo;

    @BeforeEach
    void setUp() throws IOException {
        clock = new MutableClock(T0);
        repo = new Repository(new LocalBlobStore(tmp.resolve("repo")), "");
    }

    @AfterEach
    void tearDown() throws IOException {
        repo.close();
    }

    @Test
    void acquiresTheLeaseOfAnEmptyRepository() throws IOException {
        assertFalse(RepositoryLease.current(repo, TTL, clock).exists());
        assertTrue(RepositoryLease.current(repo, TTL, clock).describe().startsWith("no agent holds the lease on "));

        RepositoryLease a = lease(A);
        AcquireResult result = a.tryAcquire();

        assertTrue(result.acquired(), result.message());
        assertEquals(1, a.epoch());
        assertTrue(a.isHeld());
        assertEquals(T0.plus(TTL), a.heldUntil());
        assertEquals(List.of("locks/lease-00000000000000000001.json"), leaseKeys(repo));

        JsonNode json = Json.MAPPER.readTree(repo.store().readAllBytes("locks/lease-00000000000000000001.json", 1 << 16));
        assertEquals(A, json.get("holder").asText());
        assertEquals(1, json.get("epoch").asLong());
        assertEquals("2026-11-21T10:00:00Z", json.get("acquired_at").asText());
        assertEquals("2026-11-21T10:00:00Z", json.get("renewed_at").asText());
        assertEquals("2026-11-21T10:01:00Z", json.get("expires_at").asText());
        assertEquals(60, json.get("ttl_seconds").asLong());
        assertEquals(Version.current(), json.get("tool_version").asText());
        assertEquals(7, json.size(), json.toString());

        LeaseStatus status = RepositoryLease.current(repo, TTL, clock);
        assertEquals(A, status.holder());
        assertEquals(T0, status.acquiredAt());
        assertTrue(status.live());
        assertFalse(status.expired());
        assertTrue(status.describe().contains("is held by agent " + A + " (since 2026-11-21T10:00:00Z"), status.describe());

        // Asking again, or asking as a new object with the same holder id, keeps the same lease.
        assertTrue(a.tryAcquire().acquired());
        RepositoryLease again = lease(A);
        assertTrue(again.tryAcquire().acquired());
        assertEquals(1, again.epoch());
        assertEquals(List.of("locks/lease-00000000000000000001.json"), leaseKeys(repo));
    }

    @Test
    void secondAgentIsRefusedWithAMessageNamingTheFirst() throws IOException {
        assertTrue(lease(A).tryAcquire().acquired());
        clock.advance(Duration.ofSeconds(10));

        RepositoryLease b = lease(B);
        AcquireResult result = b.tryAcquire();

        assertFalse(result.acquired());
        assertFalse(b.isHeld());
        assertEquals(0, b.epoch());
        assertEquals(A, result.lease().holder());
        String expected = "the repository " + repo.location() + " is locked by agent " + A
                + " (lease renewed 2026-11-21T10:00:00Z, expires 10:01:00Z): another agent is writing to it."
                + " Stop it, or wait for the lease to expire.";
        assertEquals(expected, result.message());
        RepositoryLockedException e = assertThrows(RepositoryLockedException.class, result::orThrow);
        assertEquals(expected, e.getMessage());
        assertEquals(A, b.holder().holder());
        assertEquals(List.of("locks/lease-00000000000000000001.json"), leaseKeys(repo));
    }

    @Test
    void renewalKeepsTheLease() throws IOException {
        RepositoryLease a = lease(A);
        assertTrue(a.tryAcquire().acquired());
        assertEquals(Duration.ofSeconds(20), a.renewInterval());

        clock.advance(Duration.ofSeconds(40));
        LeaseStatus renewed = a.renew();
        assertEquals(T0.plusSeconds(100), renewed.expiresAt());
        assertEquals(T0.plusSeconds(100), a.heldUntil());

        // Past the first expiry plus margin: only the renewal keeps B out.
        clock.advance(Duration.ofSeconds(40));
        assertFalse(lease(B).tryAcquire().acquired());
        a.renew();
        assertTrue(a.isHeld());

        LeaseStatus stored = RepositoryLease.current(repo, TTL, clock);
        assertEquals(1, stored.epoch());
        assertEquals(T0, stored.acquiredAt());
        assertEquals(T0.plusSeconds(80), stored.renewedAt());
        assertEquals(T0.plusSeconds(140), stored.expiresAt());
    }

    @Test
    void expiredLeaseIsTakenOverAndTheOldHolderLearnsItLost() throws IOException {
        RepositoryLease a = lease(A);
        assertTrue(a.tryAcquire().acquired());
        RepositoryLease b = lease(B);

        // Expired, but within the margin for clock skew: still kept off.
        clock.advance(TTL.plusSeconds(1));
        assertFalse(a.isHeld(), "the holder itself stops at expires_at");
        AcquireResult early = b.tryAcquire();
        assertFalse(early.acquired());
        assertTrue(early.message().contains("expired 10:01:00Z, may be taken over from 10:01:15Z"), early.message());

        clock.set(T0.plus(TTL).plus(MARGIN).plusSeconds(1));
        AcquireResult taken = b.tryAcquire();
        assertTrue(taken.acquired(), taken.message());
        assertEquals(2, b.epoch());
        assertEquals(List.of("locks/lease-00000000000000000002.json"), leaseKeys(repo), "epoch 1 is cleaned up");

        LeaseLostException lost = assertThrows(LeaseLostException.class, a::renew);
        assertTrue(lost.getMessage().contains("agent " + A + " lost the lease on " + repo.location()), lost.getMessage());
        assertTrue(lost.getMessage().contains("agent " + B + " has taken it over (epoch 2"), lost.getMessage());
        assertTrue(lost.getMessage().contains("must stop writing"), lost.getMessage());
        assertEquals(B, lost.current().holder());
        assertFalse(a.isHeld());
        assertEquals(0, a.epoch());

        assertFalse(a.release(), "a lost lease is not released");
        assertEquals(List.of("locks/lease-00000000000000000002.json"), leaseKeys(repo));
        assertEquals(B, a.tryAcquire().lease().holder());
        b.renew();
    }

    @Test
    void leaseThatExpiredBeforeItWasRenewedIsLost() throws IOException {
        RepositoryLease a = lease(A);
        assertTrue(a.tryAcquire().acquired());
        clock.advance(TTL.plusSeconds(1));

        LeaseLostException lost = assertThrows(LeaseLostException.class, a::renew);
        assertTrue(lost.getMessage().contains("expired at 2026-11-21T10:01:00Z before it was renewed"), lost.getMessage());
        assertFalse(a.isHeld());

        // Competing again, it takes a new epoch by write-once creation rather than reviving the old one.
        assertTrue(a.tryAcquire().acquired());
        assertEquals(2, a.epoch());
        assertEquals(List.of("locks/lease-00000000000000000002.json"), leaseKeys(repo));
    }

    @Test
    void releaseFreesTheLeaseAtOnce() throws IOException {
        RepositoryLease a = lease(A);
        assertTrue(a.tryAcquire().acquired());

        assertTrue(a.release());

        assertFalse(a.isHeld());
        assertNull(a.heldUntil());
        assertEquals(List.of(), leaseKeys(repo));
        assertFalse(RepositoryLease.current(repo, TTL, clock).exists());
        assertThrows(IllegalStateException.class, a::renew);
        assertFalse(a.release());
        RepositoryLease b = lease(B);
        assertTrue(b.tryAcquire().acquired(), "no waiting for expiry");
    }

    @Test
    void staleAgentDoesNotMistakeANewLeaseReusingItsEpochForItsOwn() throws IOException {
        RepositoryLease a = lease(A);
        assertTrue(a.tryAcquire().acquired());
        clock.advance(TTL.plus(MARGIN).plusSeconds(1));
        RepositoryLease b = lease(B);
        assertTrue(b.tryAcquire().acquired());
        assertTrue(b.release());
        // locks/ is empty again, so the next lease is epoch 1 once more.
        RepositoryLease c = lease("host-c/9-ef56");
        assertTrue(c.tryAcquire().acquired());
        assertEquals(1, c.epoch());

        // A was paused all this time; on waking its lease has epoch 1 too, but is not its own.
        clock.advance(Duration.ofSeconds(1));
        LeaseLostException lost = assertThrows(LeaseLostException.class, a::renew);
        assertTrue(lost.getMessage().contains("no longer its own"), lost.getMessage());
        assertEquals("host-c/9-ef56", RepositoryLease.current(repo, TTL, clock).holder());
        c.renew();
    }

    @Test
    void exactlyOneOfManyRacingAgentsWinsOnALocalStore() throws Exception {
        List<Repository> agents = new ArrayList<>();
        try {
            for (int i = 0; i < RACERS; i++) {
                agents.add(new Repository(new LocalBlobStore(tmp.resolve("repo")), ""));
            }
            race(agents);
        } finally {
            for (Repository agent : agents) {
                agent.close();
            }
        }
    }

    @Test
    void exactlyOneOfManyRacingAgentsWinsOnS3() throws Exception {
        List<Repository> agents = new ArrayList<>();
        try (S3ProxyServer server = new S3ProxyServer()) {
            try {
                for (int i = 0; i < RACERS; i++) {
                    agents.add(new Repository(new S3BlobStore(server.config().build()), "lease-race/"));
                }
                assertTrue(agents.get(0).store().supportsConditionalCreate());
                race(agents);
            } finally {
                for (Repository agent : agents) {
                    agent.close();
                }
            }
        }
    }

    /**
     * {@link #ROUNDS} races of one agent per repository object for the lease: the first on an empty
     * repository, each later one on the previous winner's lease once it has expired.
     */
    private void race(List<Repository> agents) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(agents.size());
        try {
            for (int round = 0; round < ROUNDS; round++) {
                if (round > 0) {
                    clock.advance(TTL.plus(MARGIN).plusSeconds(1));
                }
                CyclicBarrier start = new CyclicBarrier(agents.size());
                List<Future<AcquireResult>> futures = new ArrayList<>();
                for (int i = 0; i < agents.size(); i++) {
                    RepositoryLease lease = new RepositoryLease(agents.get(i), "racer-" + round + "-" + i, TTL, clock);
                    futures.add(pool.submit(() -> {
                        start.await(10, TimeUnit.SECONDS);
                        return lease.tryAcquire();
                    }));
                }
                List<AcquireResult> results = new ArrayList<>();
                for (Future<AcquireResult> f : futures) {
                    results.add(f.get(60, TimeUnit.SECONDS));
                }
                List<AcquireResult> winners = results.stream().filter(AcquireResult::acquired).collect(Collectors.toList());
                assertEquals(1, winners.size(), "round " + round + ": " + results);
                String winner = winners.get(0).lease().holder();
                assertEquals(round + 1, winners.get(0).lease().epoch(), "round " + round);
                for (AcquireResult r : results) {
                    assertEquals(winner, r.lease().holder(), "round " + round + ": every loser names the winner");
                }
                Repository any = agents.get(0);
                assertEquals(winner, RepositoryLease.current(any, TTL, clock).holder());
                assertEquals(List.of(String.format("locks/lease-%020d.json", round + 1)), leaseKeys(any),
                        "round " + round + ": only the winner's lease object is left");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void unreadableLeaseCountsAsHeldUntilItsObjectIsStale() throws IOException {
        String key = "locks/lease-00000000000000000003.json";
        repo.store().putBytes(key, "{\"holder\": \"host-x/1-".getBytes(StandardCharsets.UTF_8), WriteMode.CREATE_NEW);
        Files.setLastModifiedTime(tmp.resolve("repo").resolve(key), FileTime.from(T0));
        clock.advance(Duration.ofSeconds(10));

        RepositoryLease a = lease(A);
        AcquireResult refused = a.tryAcquire();
        assertFalse(refused.acquired());
        assertEquals("unknown", refused.lease().holder());
        assertFalse(refused.lease().readable());
        assertTrue(refused.message().startsWith("the repository " + repo.location() + " is locked by an unknown agent:"
                + " its lease object " + key + " cannot be read (not lease JSON: "), refused.message());
        assertTrue(refused.message().contains("counts as held until 2026-11-21T10:01:15Z (it was last written"
                + " 2026-11-21T10:00:00Z"), refused.message());
        assertTrue(refused.message().endsWith("If no other agent is running, delete that object."), refused.message());
        assertTrue(RepositoryLease.current(repo, TTL, clock).describe().contains("cannot be read"));

        clock.set(T0.plus(TTL).plus(MARGIN).minusSeconds(1));
        assertFalse(a.tryAcquire().acquired(), "not stale yet");

        clock.set(T0.plus(TTL).plus(MARGIN).plusSeconds(1));
        AcquireResult taken = a.tryAcquire();
        assertTrue(taken.acquired(), taken.message());
        assertEquals(4, a.epoch());
        assertEquals(List.of("locks/lease-00000000000000000004.json"), leaseKeys(repo));
    }

    @Test
    void leaseNamingAnotherEpochIsUnreadable() throws IOException {
        byte[] copied = LeaseRecord.create(B, 7, T0, T0, TTL).encode();
        repo.store().putBytes("locks/lease-00000000000000000003.json", copied, WriteMode.CREATE_NEW);
        Files.setLastModifiedTime(tmp.resolve("repo/locks/lease-00000000000000000003.json"), FileTime.from(T0));

        LeaseStatus status = RepositoryLease.current(repo, TTL, clock);

        assertEquals("unknown", status.holder());
        assertEquals("epoch 7 in an object named for epoch 3", status.problem());
        assertTrue(status.live());
    }

    @Test
    void unreadableLeaseOfUnknownAgeIsNeverTakenOver() throws IOException {
        Repository noTimes = new Repository(new NoTimesStore(repo.store()), "");
        noTimes.store().putBytes("locks/lease-00000000000000000001.json", "garbage".getBytes(StandardCharsets.UTF_8),
                WriteMode.CREATE_NEW);
        clock.advance(Duration.ofDays(30));

        AcquireResult refused = new RepositoryLease(noTimes, A, TTL, clock).tryAcquire();

        assertFalse(refused.acquired());
        assertTrue(refused.message().contains("counts as held until someone deletes it"), refused.message());
    }

    @Test
    void leaseFromANewerAgentWithMoreFieldsIsHonoured() throws IOException {
        ObjectNode json = (ObjectNode) Json.MAPPER.readTree(LeaseRecord.create(B, 1, T0, T0, TTL).encode());
        json.put("fencing_token", "x");
        repo.store().putBytes("locks/lease-00000000000000000001.json", Json.MAPPER.writeValueAsBytes(json),
                WriteMode.CREATE_NEW);

        AcquireResult refused = lease(A).tryAcquire();

        assertFalse(refused.acquired());
        assertTrue(refused.lease().readable());
        assertEquals(B, refused.lease().holder());
    }

    @Test
    void olderLeaseObjectsAreCleanedUp() throws IOException {
        repo.store().putBytes("locks/lease-00000000000000000001.json",
                LeaseRecord.create("old-1", 1, T0.minusSeconds(900), T0.minusSeconds(900), TTL).encode(), WriteMode.CREATE_NEW);
        repo.store().putBytes("locks/lease-00000000000000000002.json",
                LeaseRecord.create("old-2", 2, T0.minusSeconds(600), T0.minusSeconds(600), TTL).encode(), WriteMode.CREATE_NEW);
        repo.store().putBytes("locks/README", "not a lease".getBytes(StandardCharsets.UTF_8), WriteMode.CREATE_NEW);

        RepositoryLease a = lease(A);
        assertTrue(a.tryAcquire().acquired());

        assertEquals(3, a.epoch());
        assertEquals(List.of("locks/README", "locks/lease-00000000000000000003.json"), allKeys(repo));

        clock.advance(TTL.plus(MARGIN).plusSeconds(1));
        assertTrue(lease(B).tryAcquire().acquired());
        assertEquals(List.of("locks/README", "locks/lease-00000000000000000004.json"), allKeys(repo));
    }

    @Test
    void defaultHolderIdNamesHostAndProcess() {
        String id = RepositoryLease.defaultHolderId();
        assertTrue(id.matches(".+/" + ProcessHandle.current().pid() + "-[0-9a-f]{4}"), id);
        assertThrows(IllegalArgumentException.class, () -> lease(" "));
        assertThrows(IllegalArgumentException.class, () -> new RepositoryLease(repo, A, Duration.ofMillis(10), clock));
    }

    private RepositoryLease lease(String holder) {
        return new RepositoryLease(repo, holder, TTL, clock);
    }

    /** The lease objects' repository-relative keys. */
    private static List<String> leaseKeys(Repository r) throws IOException {
        return allKeys(r).stream().filter(k -> k.startsWith("locks/lease-")).collect(Collectors.toList());
    }

    private static List<String> allKeys(Repository r) throws IOException {
        String prefix = r.key("locks/");
        return r.store().listAll(prefix).stream().map(i -> i.key().substring(r.key("").length()))
                .collect(Collectors.toList());
    }

    /** A store that does not say when objects were written, as some stores' listings do not. */
    private static final class NoTimesStore extends ForwardingBlobStore {
        NoTimesStore(BlobStore inner) {
            super(inner);
        }

        @Override
        public Optional<BlobInfo> stat(String key) throws IOException {
            return delegate.stat(key).map(i -> new BlobInfo(i.key(), i.size(), null));
        }

        @Override
        public List<BlobInfo> list(String prefix, String startAfter, int limit) throws IOException {
            return delegate.list(prefix, startAfter, limit).stream().map(i -> new BlobInfo(i.key(), i.size(), null))
                    .collect(Collectors.toList());
        }

        @Override
        public void close() {
            // the inner store belongs to the test
        }
    }

    /**
     * A command's lease (LeaseGuard) lasts the ttl it is given: a command killed with SIGKILL cannot release it, and
     * the next writer waits out exactly that.
     */
    @Test
    void aCommandsLeaseLastsTheTtlItIsGiven() throws IOException {
        try (LeaseGuard guard = LeaseGuard.acquire(repo, "backup", Duration.ofSeconds(5))) {
            LeaseStatus held = RepositoryLease.current(repo);
            assertEquals(Duration.ofSeconds(5), Duration.between(held.renewedAt(), held.expiresAt()), held.toString());
            assertTrue(held.holder().endsWith("/backup"), held.holder());
        }
        assertFalse(RepositoryLease.current(repo).exists(), "released at the end of the command");
    }
}
