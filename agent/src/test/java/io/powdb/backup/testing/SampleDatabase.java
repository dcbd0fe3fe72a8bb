package io.powdb.backup.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes a sample PowDB data directory with the test fixture, for the README's quick start and for the
 * benchmarks; can then change a share of its pages the way a server would, and checkpoint.
 *
 * <pre>
 * create DIR SIZE_MIB [TABLES] [SEED]     a new quiescent database of about SIZE_MIB MiB of heap pages
 * update DIR PERCENT [SEED]               rewrite PERCENT% of every table's pages with new LSNs, checkpoint
 * </pre>
 */
public final class SampleDatabase {
    private SampleDatabase() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 3) {
            System.err.println("usage: SampleDatabase create DIR SIZE_MIB [TABLES] [SEED] | update DIR PERCENT [SEED]");
            System.exit(2);
        }
        Path dir = Path.of(args[1]);
        switch (args[0]) {
            case "create" -> create(dir, Long.parseLong(args[2]), args.length > 3 ? Integer.parseInt(args[3]) : 4,
                    args.length > 4 ? Long.parseLong(args[4]) : 1);
            case "update" -> update(dir, Double.parseDouble(args[2]), args.length > 3 ? Long.parseLong(args[3]) : 2);
            default -> {
                System.err.println("unknown action " + args[0]);
                System.exit(2);
            }
        }
    }

    static void create(Path dir, long sizeMiB, int tables, long seed) throws IOException {
        if (Files.exists(dir.resolve(PowDbFixture.CATALOG))) {
            throw new IOException(dir + " already holds a database");
        }
        PowDbFixture db = PowDbFixture.create(dir, PowDbFixture.Version.V0_5, seed);
        long pages = Math.max(tables, sizeMiB * 256);
        for (int t = 0; t < tables; t++) {
            int tablePages = (int) Math.max(1, pages / tables);
            db.createTable("table" + t, tablePages);
        }
        db.writeOptionalWholeFiles();
        db.checkpoint();
        System.out.println("created " + dir + ": " + tables + " tables, " + pages + " pages, LSN " + db.lastLsn());
    }

    static void update(Path dir, double percent, long seed) throws IOException {
        PowDbFixture db = PowDbFixture.open(dir, PowDbFixture.Version.V0_5, seed);
        long changed = 0;
        for (String table : db.tableNames()) {
            int pages = db.pageCount(table);
            int count = (int) Math.max(1, Math.round(pages * percent / 100.0));
            db.updateRandomPages(table, Math.min(count, pages - 1));
            changed += count;
        }
        db.checkpoint();
        System.out.println("updated " + changed + " pages in " + dir + ", LSN " + db.lastLsn());
    }
}
