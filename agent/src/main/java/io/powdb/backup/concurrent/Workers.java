package io.powdb.backup.concurrent;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionService;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs independent pieces of work (one file each, in a backup or a restore) on a few threads and gives their
 * results in the order they were given.
 *
 * <p>All or nothing: the first failure interrupts the others and waits until every one has stopped before it is
 * thrown, so that the caller, which then removes what was written, never races a worker still writing. The
 * caller's own interruption (an agent shutting down) does the same. One thread runs the work in the calling
 * thread, exactly as a plain loop would.
 */
public final class Workers {
    /** How long a failed run waits for its other workers to stop after interrupting them. */
    private static final long STOP_WAIT_SECONDS = 60;

    private Workers() {
    }

    /** A piece of work that may fail with an {@link IOException}. */
    @FunctionalInterface
    public interface Task<T> {
        T run() throws IOException;
    }

    /**
     * The default number of files worked on at once: the cores the JVM may use (a container's CPU limit
     * counts), at most 4. Each worker holds a read buffer, a compressor and an upload's buffers, so more
     * workers buy little once the cores are busy and cost memory.
     */
    public static int defaultParallelism() {
        return Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
    }

    /** The word for {@link #defaultParallelism()} in settings. */
    public static final String AUTO = "auto";

    /** Reads a parallelism setting: {@value #AUTO} or a number of files from 1 to 64. */
    public static int parseParallelism(String value, String setting) {
        String v = value.trim();
        if (v.equalsIgnoreCase(AUTO)) {
            return defaultParallelism();
        }
        try {
            return checkParallelism(Integer.parseInt(v), setting);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(setting + " is '" + value + "': use " + AUTO
                    + " (the cores available, at most 4) or a number from 1 to 64");
        }
    }

    /** Checks a parallelism setting given by a user. */
    public static int checkParallelism(int parallelism, String setting) {
        if (parallelism < 1 || parallelism > 64) {
            throw new IllegalArgumentException(setting + " must be between 1 and 64, not " + parallelism);
        }
        return parallelism;
    }

    /**
     * Runs the tasks, at most {@code threads} at a time, and returns their results in the tasks' order.
     *
     * @param name names the worker threads (seen in thread dumps and profiles)
     */
    public static <T> List<T> run(List<? extends Task<T>> tasks, int threads, String name) throws IOException {
        if (threads <= 1 || tasks.size() <= 1) {
            List<T> results = new ArrayList<>(tasks.size());
            for (Task<T> task : tasks) {
                results.add(task.run());
            }
            return results;
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(threads, tasks.size()), threadFactory(name));
        try {
            CompletionService<T> done = new ExecutorCompletionService<>(pool);
            List<Future<T>> futures = new ArrayList<>(tasks.size());
            for (Task<T> task : tasks) {
                futures.add(done.submit(task::run));
            }
            for (int i = 0; i < tasks.size(); i++) {
                Future<T> finished = done.take();
                try {
                    finished.get();
                } catch (ExecutionException e) {
                    stop(pool);
                    throw rethrow(e.getCause(), futures, finished);
                }
            }
            List<T> results = new ArrayList<>(tasks.size());
            for (Future<T> future : futures) {
                results.add(future.get());
            }
            return results;
        } catch (InterruptedException e) {
            stop(pool);
            Thread.currentThread().interrupt();
            InterruptedIOException interrupted = new InterruptedIOException("interrupted while " + name + " was running");
            interrupted.initCause(e);
            throw interrupted;
        } catch (ExecutionException e) {
            throw new IllegalStateException("a task failed after all had succeeded", e); // cannot happen: all were done
        } finally {
            pool.shutdownNow();
        }
    }

    private static void stop(ExecutorService pool) throws InterruptedIOException {
        pool.shutdownNow();
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    if (!pool.awaitTermination(STOP_WAIT_SECONDS, TimeUnit.SECONDS)) {
                        throw new InterruptedIOException("workers did not stop within " + STOP_WAIT_SECONDS
                                + " s of being interrupted");
                    }
                    return;
                } catch (InterruptedException e) {
                    interrupted = true; // keep waiting: the caller must not clean up under a running worker
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * The first failure, as what it was; the failures of the others are what the interruption caused and are
     * kept as suppressed only when they are something else.
     */
    private static <T> IOException rethrow(Throwable cause, List<Future<T>> futures, Future<T> first) {
        for (Future<T> other : futures) {
            if (other == first || !other.isDone() || other.isCancelled()) {
                continue;
            }
            try {
                other.get();
            } catch (ExecutionException e) {
                Throwable secondary = e.getCause();
                if (secondary != cause && !(secondary instanceof InterruptedIOException)
                        && !(secondary instanceof java.nio.channels.ClosedByInterruptException)) {
                    cause.addSuppressed(secondary);
                }
            } catch (InterruptedException | CancellationException e) {
                // not a failure of its own
            }
        }
        if (cause instanceof IOException io) {
            return io;
        }
        if (cause instanceof UncheckedIOException unchecked) {
            return unchecked.getCause();
        }
        if (cause instanceof RuntimeException runtime) {
            throw runtime;
        }
        if (cause instanceof Error error) {
            throw error;
        }
        return new IOException(cause);
    }

    private static ThreadFactory threadFactory(String name) {
        AtomicInteger count = new AtomicInteger();
        return runnable -> {
            Thread thread = new Thread(runnable, name + "-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }
}
