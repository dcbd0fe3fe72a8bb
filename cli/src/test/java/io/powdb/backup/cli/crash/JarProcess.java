package io.powdb.backup.cli.crash;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The packaged jar ({@code cli/target/powdb-backup.jar}, built by {@code package}) run in a JVM of its own, as users
 * run it, so that it can be killed with SIGKILL: {@link Process#destroyForcibly()} sends SIGKILL on Linux (the JDK's
 * {@code ProcessHandleImpl.destroy0} calls kill(pid, SIGKILL)), and {@link #kill()} checks it by the exit status
 * the JDK reports for a process ended by a signal, 128 + 9.
 */
final class JarProcess {
    static final int SIGKILL_EXIT = 128 + 9;
    private static final Path JAR = Path.of("target", "powdb-backup.jar").toAbsolutePath();

    /** What a finished run printed and how it ended. */
    record Result(int exit, String out, String err, long millis) {
        boolean killed() {
            return exit == SIGKILL_EXIT;
        }

        @Override
        public String toString() {
            return "exit " + exit + " after " + millis + " ms, stdout: " + out.strip() + ", stderr: " + err.strip();
        }
    }

    private final Process process;
    private final Path out;
    private final Path err;
    private final long startNanos;
    private Result result;

    private JarProcess(Process process, Path out, Path err, long startNanos) {
        this.process = process;
        this.out = out;
        this.err = err;
        this.startNanos = startNanos;
    }

    /** Starts {@code powdb-backup ARGS} in {@code workDir}; its output goes to files named after {@code name}. */
    static JarProcess start(Path workDir, Map<String, String> env, String name, String... args) throws IOException {
        assertTrue(Files.isRegularFile(JAR), JAR + " is built by 'package' before the integration tests run");
        Files.createDirectories(workDir);
        List<String> command = new ArrayList<>(List.of("java", "-Xmx256m", "-XX:+UseSerialGC",
                "-Djava.io.tmpdir=" + workDir.resolve("jvm-tmp"), "-jar", JAR.toString()));
        Files.createDirectories(workDir.resolve("jvm-tmp"));
        command.addAll(List.of(args));
        Path out = workDir.resolve(name + ".out");
        Path err = workDir.resolve(name + ".err");
        ProcessBuilder builder = new ProcessBuilder(command).directory(workDir.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile());
        builder.environment().putAll(env);
        long start = System.nanoTime();
        return new JarProcess(builder.start(), out, err, start);
    }

    /** Runs {@code powdb-backup ARGS} to its end (at most two minutes). */
    static Result run(Path workDir, Map<String, String> env, String name, String... args)
            throws IOException, InterruptedException {
        return start(workDir, env, name, args).await(Duration.ofMinutes(2));
    }

    long elapsedMillis() {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
    }

    boolean isAlive() {
        return process.isAlive();
    }

    String stdoutSoFar() throws IOException {
        return Files.readString(out, StandardCharsets.UTF_8);
    }

    /** Sends SIGKILL (if it still runs) and waits for the end. */
    Result kill() throws IOException, InterruptedException {
        process.destroyForcibly();
        return await(Duration.ofSeconds(30));
    }

    /** Sends SIGTERM, the graceful stop, and waits for the end. */
    Result stop(Duration patience) throws IOException, InterruptedException {
        process.destroy();
        return await(patience);
    }

    Result await(Duration patience) throws IOException, InterruptedException {
        if (result != null) {
            return result;
        }
        if (!process.waitFor(patience.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
            fail("powdb-backup did not finish within " + patience + ": " + Files.readString(err));
        }
        result = new Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8), elapsedMillis());
        return result;
    }
}
