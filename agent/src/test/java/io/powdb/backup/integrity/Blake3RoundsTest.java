package io.powdb.backup.integrity;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The hand-unrolled rounds in the source are exactly what {@link Blake3Rounds} writes: the two copies in
 * {@link Blake3Engine} and the one in {@link Blake3Lanes} cannot drift apart.
 */
class Blake3RoundsTest {
    private static final Path SOURCES = Path.of("src", "main", "java", "io", "powdb", "backup", "integrity");

    @Test
    void bothCompressionsInTheEngineHoldTheGeneratedRounds() throws IOException {
        List<String> source = Files.readAllLines(SOURCES.resolve("Blake3Engine.java"));
        List<Integer> starts = indicesOf(source, "// round 1");
        assertEquals(2, starts.size(), "Blake3Engine has two unrolled compressions, chunkCv and compress");
        List<String> chunkCv = Blake3Rounds.engineRounds(" ".repeat(12));
        List<String> compress = Blake3Rounds.engineRounds(" ".repeat(8));
        assertEquals(7 * 33, chunkCv.size());
        assertEquals(String.join("\n", chunkCv), block(source, starts.get(0), chunkCv.size()), "chunkCv");
        assertEquals(String.join("\n", compress), block(source, starts.get(1), compress.size()), "compress");
    }

    @Test
    void theLanesHoldTheGeneratedRound() throws IOException {
        List<String> source = Files.readAllLines(SOURCES.resolve("Blake3Lanes.java"));
        List<String> round = Blake3Rounds.laneRound(" ".repeat(12));
        List<Integer> starts = indicesOf(source, round.get(0).trim());
        assertEquals(1, starts.size(), "Blake3Lanes has one unrolled round");
        assertEquals(String.join("\n", round), block(source, starts.get(0), round.size()));
    }

    @Test
    void theGeneratorFollowsTheSchedule() {
        // Round 2's first G takes message words SCHEDULE[1][0] and [1]: 2 and 6.
        List<String> lines = Blake3Rounds.engineRounds("");
        assertEquals("// round 2", lines.get(33));
        assertEquals("v0 = v0 + m2 + v4; v12 = Integer.rotateRight(v12 ^ v0, 16);", lines.get(34));
        assertEquals("v0 = v0 + m6 + v4; v12 = Integer.rotateRight(v12 ^ v0, 8);", lines.get(36));
    }

    private static List<Integer> indicesOf(List<String> lines, String trimmed) {
        List<Integer> found = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).trim().equals(trimmed)) {
                found.add(i);
            }
        }
        return found;
    }

    private static String block(List<String> lines, int from, int count) {
        return String.join("\n", lines.subList(from, Math.min(lines.size(), from + count)));
    }
}
