package io.powdb.backup.scratch;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;

/**
 * Scratch files in the temp directory (WAL spools, copies of page maps and segments), named after the process
 * that owns them, so that what a killed process left behind can be told apart from what a live one is using
 * and removed. Without this, a sidecar that is OOM-killed in a loop fills its emptyDir (which survives
 * container restarts) with one WAL spool per life.
 *
 * <p>The owner is the host, the process id and the process's start time: in a container every life of the
 * agent may be pid 1, so the pid alone would make a dead life's files look like ours. Files of another host
 * (a temp directory on shared storage) are never touched.
 */
public final class ScratchFiles {
    private static final Pattern OWNED = Pattern.compile(
            "powdb-[a-z-]+-h([0-9a-f]{8})p([0-9]+)t([0-9]+)-.*");
    private static final String HOST = hostTag();
    private static final long PID = ProcessHandle.current().pid();
    private static final String OWNER = "h" + HOST + "p" + PID + "t" + startTime(ProcessHandle.current()).orElse(0L);

    private ScratchFiles() {
    }

    /** A new empty file in {@code dir} (created if need be), owned by this process. */
    public static Path create(Path dir, String prefix, String suffix) throws IOException {
        Files.createDirectories(dir);
        return Files.createTempFile(dir, prefix + OWNER + "-", suffix);
    }

    /** The path of a file named by the caller, owned by this process (not created). */
    public static Path name(Path dir, String prefix, String name) {
        return dir.resolve(prefix + OWNER + "-" + name);
    }

    /**
     * Deletes the files in {@code dir} that a process of this host left when it died (it no longer runs, or
     * its pid now belongs to a process started at another time); returns their names. Files of live
     * processes, of other hosts, of unknown owners and anything not named like ours stay. Housekeeping only:
     * it never fails the work that calls it (what it cannot read or delete stays for the next sweep).
     */
    public static List<String> removeAbandoned(Path dir) {
        List<String> removed = new ArrayList<>();
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return removed;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "powdb-*")) {
            for (Path file : files) {
                String name = file.getFileName().toString();
                Matcher m = OWNED.matcher(name);
                if (!m.matches() || !m.group(1).equals(HOST) || !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                if (ownerIsGone(Long.parseLong(m.group(2)), Long.parseLong(m.group(3)))) {
                    try {
                        Files.deleteIfExists(file);
                        removed.add(name);
                    } catch (IOException e) {
                        // left for the next sweep: this is housekeeping, never a reason to fail the work
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // an unreadable temp directory fails the work itself, with a better message, when it is used
        }
        return removed;
    }

    /** True only when the owner certainly is not running: no such pid, or a pid reused by a later process. */
    static boolean ownerIsGone(long pid, long startMillis) {
        Optional<ProcessHandle> process = ProcessHandle.of(pid);
        if (process.isEmpty() || !process.get().isAlive()) {
            return true;
        }
        Optional<Long> started = startTime(process.get());
        return startMillis != 0 && started.isPresent() && started.get() != startMillis;
    }

    private static Optional<Long> startTime(ProcessHandle process) {
        return process.info().startInstant().map(java.time.Instant::toEpochMilli);
    }

    /** The kernel's host name (no DNS lookup: a container may have no resolver for its own name). */
    private static String hostTag() {
        String host = null;
        try {
            host = Files.readString(Path.of("/proc/sys/kernel/hostname")).trim();
        } catch (IOException | RuntimeException e) {
            host = System.getenv("HOSTNAME");
        }
        CRC32C crc = new CRC32C();
        crc.update((host == null ? "unknown" : host).getBytes(StandardCharsets.UTF_8));
        return String.format("%08x", crc.getValue());
    }

    /** This process's owner tag, as it appears in its files' names. */
    static String owner() {
        return OWNER;
    }
}
