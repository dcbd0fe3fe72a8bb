package io.powdb.backup.concurrent;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WorkersTest {

    @Test
    void resultsComeInTheTasksOrderWhateverOrderTheyFinishIn() throws IOException {
        List<Workers.Task<Integer>> tasks = new ArrayList<>();
        Set<String> threads = ConcurrentHashMap.newKeySet();
        for (int i = 0; i < 20; i++) {
            int n = i;
            tasks.add(() -> {
                threads.add(Thread.currentThread().getName());
                sleep((20 - n) % 7);
                return n * n;
            });
        }
        assertEquals(IntStream.range(0, 20).map(n -> n * n).boxed().toList(), Workers.run(tasks, 4, "test"));
        assertTrue(threads.stream().allMatch(name -> name.startsWith("test-")), threads.toString());
        assertTrue(threads.size() > 1, "ran on several threads: " + threads);
    }

    @Test
    void oneThreadRunsTheTasksInTheCallingThreadInOrder() throws IOException {
        List<Integer> order = Collections.synchronizedList(new ArrayList<>());
        Thread caller = Thread.currentThread();
        List<Workers.Task<Integer>> tasks = IntStream.range(0, 5).<Workers.Task<Integer>>mapToObj(n -> () -> {
            assertSame(caller, Thread.currentThread());
            order.add(n);
            return n;
        }).toList();
        assertEquals(List.of(0, 1, 2, 3, 4), Workers.run(tasks, 1, "test"));
        assertEquals(List.of(0, 1, 2, 3, 4), order);
    }

    /** The caller cleans up after a failure: no worker may still be running when the failure reaches it. */
    @Test
    void theFirstFailureStopsTheOthersAndWaitsForThemBeforeItIsThrown() {
        AtomicInteger running = new AtomicInteger();
        AtomicInteger interrupted = new AtomicInteger();
        CountDownLatch othersStarted = new CountDownLatch(3);
        IOException failure = new IOException("disk on fire");
        List<Workers.Task<Void>> tasks = new ArrayList<>();
        tasks.add(() -> {
            await(othersStarted);
            throw failure;
        });
        for (int i = 0; i < 3; i++) {
            tasks.add(() -> {
                running.incrementAndGet();
                othersStarted.countDown();
                try {
                    Thread.sleep(60_000);
                } catch (InterruptedException e) {
                    interrupted.incrementAndGet();
                    sleep(100); // still cleaning up after the interruption
                    throw new InterruptedIOException("stopped");
                } finally {
                    running.decrementAndGet();
                }
                return null;
            });
        }
        IOException thrown = assertThrows(IOException.class, () -> Workers.run(tasks, 4, "test"));
        assertSame(failure, thrown);
        assertEquals(0, running.get(), "every worker had stopped when the failure was thrown");
        assertEquals(3, interrupted.get());
        assertEquals(0, thrown.getSuppressed().length, "the interruptions it caused are not failures of their own");
    }

    @Test
    void uncheckedFailuresAreThrownAsTheyAre() {
        List<Workers.Task<Void>> tasks = List.of(() -> null, () -> {
            throw new IllegalStateException("bug");
        });
        assertEquals("bug", assertThrows(IllegalStateException.class, () -> Workers.run(tasks, 2, "test")).getMessage());
    }

    @Test
    void anInterruptedCallerStopsTheWorkersAndSaysSo() throws Exception {
        CountDownLatch started = new CountDownLatch(2);
        AtomicInteger running = new AtomicInteger();
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        List<Workers.Task<Void>> tasks = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            tasks.add(() -> {
                running.incrementAndGet();
                started.countDown();
                try {
                    Thread.sleep(60_000);
                    return null;
                } catch (InterruptedException e) {
                    throw new InterruptedIOException("stopped");
                } finally {
                    running.decrementAndGet();
                }
            });
        }
        Thread caller = new Thread(() -> {
            try {
                Workers.run(tasks, 2, "test");
            } catch (Throwable t) {
                outcome.set(t);
            }
        });
        caller.start();
        assertTrue(started.await(30, TimeUnit.SECONDS));
        caller.interrupt();
        caller.join(30_000);
        assertFalse(caller.isAlive());
        assertTrue(outcome.get() instanceof InterruptedIOException, String.valueOf(outcome.get()));
        assertEquals(0, running.get());
    }

    @Test
    void parallelismSettings() {
        assertEquals(Workers.defaultParallelism(), Workers.parseParallelism(" Auto ", "--parallelism"));
        assertTrue(Workers.defaultParallelism() >= 1 && Workers.defaultParallelism() <= 4);
        assertEquals(8, Workers.parseParallelism("8", "--parallelism"));
        assertEquals("--parallelism must be between 1 and 64, not 0",
                assertThrows(IllegalArgumentException.class, () -> Workers.parseParallelism("0", "--parallelism")).getMessage());
        assertEquals("$POWDB_BACKUP_PARALLELISM is 'many': use auto (the cores available, at most 4) or a number from 1 to 64",
                assertThrows(IllegalArgumentException.class,
                        () -> Workers.parseParallelism("many", "$POWDB_BACKUP_PARALLELISM")).getMessage());
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void await(CountDownLatch latch) throws IOException {
        try {
            if (!latch.await(30, TimeUnit.SECONDS)) {
                throw new IOException("the other tasks never started");
            }
        } catch (InterruptedException e) {
            throw new InterruptedIOException();
        }
    }
}
