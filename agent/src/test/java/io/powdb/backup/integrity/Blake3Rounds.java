package io.powdb.backup.integrity;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * Writes out the unrolled BLAKE3 rounds that {@link Blake3Engine} (twice: {@code chunkCv} reads message words
 * from the input, {@code compress} from an array) and {@link Blake3Lanes} (one round, per lane) hold. They
 * are unrolled by hand because that is what makes them fast (state and message words in locals, the message
 * permutation resolved ahead of time); this class is how they were written, and {@code Blake3RoundsTest}
 * checks that the source still says exactly this, so a change made to one copy only cannot go unnoticed.
 *
 * <p>To change the rounds: change this generator, run {@code main} (it prints the three blocks) and paste
 * each over its block; {@code Blake3RoundsTest} and {@code Blake3Test} then must pass.
 */
final class Blake3Rounds {
    /** The state words each G call mixes: the four columns, then the four diagonals. */
    private static final int[][] G = {
        {0, 4, 8, 12}, {1, 5, 9, 13}, {2, 6, 10, 14}, {3, 7, 11, 15},
        {0, 5, 10, 15}, {1, 6, 11, 12}, {2, 7, 8, 13}, {3, 4, 9, 14},
    };

    private Blake3Rounds() {
    }

    /** The 7 rounds of {@link Blake3Engine}'s compressions, each after a {@code // round r} line. */
    static List<String> engineRounds(String indent) {
        List<String> lines = new ArrayList<>();
        for (int r = 0; r < Blake3Engine.SCHEDULE.length; r++) {
            int[] order = Blake3Engine.SCHEDULE[r];
            lines.add(indent + "// round " + (r + 1));
            lines.addAll(round(indent, k -> "m" + order[k]));
        }
        return lines;
    }

    /** {@link Blake3Lanes}' one round for lane {@code l}, message word k of the round in array {@code mk}. */
    static List<String> laneRound(String indent) {
        return round(indent, k -> "m" + k + "[l]");
    }

    /** One round: 8 G calls, the k-th message word the round takes named {@code message.apply(k)}. */
    private static List<String> round(String indent, IntFunction<String> message) {
        List<String> lines = new ArrayList<>();
        for (int g = 0; g < G.length; g++) {
            String a = "v" + G[g][0];
            String b = "v" + G[g][1];
            String c = "v" + G[g][2];
            String d = "v" + G[g][3];
            lines.add(indent + a + " = " + a + " + " + message.apply(2 * g) + " + " + b + "; "
                    + d + " = Integer.rotateRight(" + d + " ^ " + a + ", 16);");
            lines.add(indent + c + " += " + d + "; " + b + " = Integer.rotateRight(" + b + " ^ " + c + ", 12);");
            lines.add(indent + a + " = " + a + " + " + message.apply(2 * g + 1) + " + " + b + "; "
                    + d + " = Integer.rotateRight(" + d + " ^ " + a + ", 8);");
            lines.add(indent + c + " += " + d + "; " + b + " = Integer.rotateRight(" + b + " ^ " + c + ", 7);");
        }
        return lines;
    }

    public static void main(String[] args) {
        System.out.println("// Blake3Engine.chunkCv");
        engineRounds(" ".repeat(12)).forEach(System.out::println);
        System.out.println("// Blake3Engine.compress");
        engineRounds(" ".repeat(8)).forEach(System.out::println);
        System.out.println("// Blake3Lanes.round");
        laneRound(" ".repeat(12)).forEach(System.out::println);
    }
}
