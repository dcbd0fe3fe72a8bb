package io.powdb.backup.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.powdb.backup.repo.Json;
import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** 'powdb-backup prune': the policy from options and environment, --dry-run, --json and exit codes. */
class PruneCommandTest {
    @TempDir
    Path tmp;
    PowDbFixture db;
    String repo;
    CliRunner cli;
    /** Backups in the order taken: chains A (full, incremental), B (full, incremental), C (full). */
    final List<String> ids = new ArrayList<>();
    final Map<String, Path> states = new TreeMap<>();

    @BeforeEach
    void setUp() throws IOException {
        db = PowDbFixture.create(tmp.resolve("data"), PowDbFixture.Version.V0_4, 9);
        db.createTable("users", 20);
        db.createTable("orders", 8);
        db.checkpoint();
        repo = tmp.resolve("repo").toString();
        cli = new CliRunner().env("POWDB_BACKUP_TEMP_DIR", tmp.resolve("scratch").toString());
        for (boolean full : new boolean[] {true, false, true, false, true}) {
            db.updatePages("users", ids.size() + 1);
            db.checkpoint();
            List<String> args = new ArrayList<>(List.of("backup", "--data-dir", db.dir().toString(), "--repo", repo, "--json"));
            if (full) {
                args.add("--full");
            }
            String id = json(cli.run(args.toArray(String[]::new))).get("id").asText();
            ids.add(id);
            states.put(id, PowDbFixture.copyDatabase(db.dir(), tmp.resolve("state-" + ids.size())));
        }
    }

    private static JsonNode json(CliRunner.Result result) throws IOException {
        assertEquals(0, result.exit(), result.toString());
        return Json.MAPPER.readTree(result.out());
    }

    /** Every file of the repository (not its scratch space) with its size. */
    private Map<String, Long> files() throws IOException {
        Map<String, Long> files = new TreeMap<>();
        Path root = Path.of(repo);
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.filter(Files::isRegularFile).toList()) {
                String rel = root.relativize(p).toString().replace('\\', '/');
                if (!rel.startsWith(".tmp/")) {
                    files.put(rel, Files.size(p));
                }
            }
        }
        return files;
    }

    private static Set<String> texts(JsonNode array) {
        Set<String> values = new TreeSet<>();
        array.forEach(n -> values.add(n.asText()));
        return values;
    }

    private String[] prune(String... extra) {
        List<String> args = new ArrayList<>(List.of("prune", "--repo", repo));
        args.addAll(Arrays.asList(extra));
        return args.toArray(String[]::new);
    }

    @Test
    void dryRunSaysWhatWouldGoAndDeletesNothing() throws IOException {
        Map<String, Long> before = files();
        CliRunner.Result human = cli.run(prune("--keep-full", "1", "--keep-within", "0", "--dry-run"));
        assertEquals(0, human.exit(), human.toString());
        assertTrue(human.out().contains("Keeping 1 backup:"), human.out());
        assertTrue(human.out().contains(ids.get(4)) && human.out().contains("newest, keep-full"), human.out());
        assertTrue(human.out().contains("Would delete 4 backups (4 manifests)"), human.out());
        for (String id : ids.subList(0, 4)) {
            assertTrue(human.out().contains("  " + id), id + " in " + human.out());
        }
        assertTrue(human.out().contains("Dry run: nothing was deleted."), human.out());
        assertEquals(before, files());

        JsonNode plan = json(cli.run(prune("--keep-full", "1", "--keep-within", "0", "--dry-run", "--json")));
        assertTrue(plan.get("dry_run").asBoolean());
        assertEquals(1, plan.get("kept").size());
        assertEquals(ids.get(4), plan.get("kept").get(0).get("id").asText());
        assertEquals("full", plan.get("kept").get(0).get("type").asText());
        assertEquals(Set.of("newest", "keep-full"), texts(plan.get("kept").get(0).get("rules")));
        assertEquals(new TreeSet<>(ids.subList(0, 4)), texts(plan.get("deleted_backups")));
        JsonNode planned = plan.get("planned");
        assertEquals(4, planned.get("backups").asInt());
        assertEquals(4, planned.get("manifests").asInt());
        assertTrue(planned.get("data_objects").asInt() > 4, planned.toString());
        assertEquals(0, planned.get("wal_segments").asInt());
        assertTrue(planned.get("bytes").asLong() > 20 * 4096, planned.toString());
        assertTrue(plan.get("deleted").isNull());
        assertTrue(plan.get("complete").asBoolean());
        assertEquals(1, plan.get("policy").get("keep_full").asInt());
        assertEquals("PT0S", plan.get("policy").get("keep_within").asText());
        assertEquals("PT24H", plan.get("policy").get("grace").asText());
        assertEquals(before, files());
    }

    @Test
    void pruneDeletesTheOldChainsAndTheKeptBackupsStillRestore() throws IOException {
        Map<String, Long> before = files();
        JsonNode done = json(cli.run(prune("--keep-full", "2", "--keep-within", "off", "--json")));
        assertFalse(done.get("dry_run").asBoolean());
        assertEquals(new TreeSet<>(ids.subList(0, 2)), texts(done.get("deleted_backups")));
        assertEquals(3, done.get("kept").size());
        assertEquals(done.get("planned"), done.get("deleted"));
        assertTrue(done.get("complete").asBoolean());
        assertTrue(done.get("error").isNull());
        Map<String, Long> after = files();
        long freed = before.values().stream().mapToLong(Long::longValue).sum()
                - after.values().stream().mapToLong(Long::longValue).sum();
        assertEquals(done.get("deleted").get("bytes").asLong(), freed);
        assertEquals(done.get("deleted").get("objects").asLong(), before.size() - after.size());

        JsonNode list = json(cli.run("list", "--repo", repo, "--json"));
        assertEquals(3, list.size());
        for (String id : ids.subList(2, 5)) {
            Path target = tmp.resolve("restored-" + id);
            json(cli.run("restore", "--repo", repo, "--target", target.toString(), "--backup", id, "--json"));
            PowDbFixture.assertSameDatabase(states.get(id), target);
        }
        CliRunner.Result again = cli.run(prune("--keep-full", "2", "--keep-within", "off"));
        assertEquals(0, again.exit(), again.toString());
        assertTrue(again.out().contains("Nothing to delete"), again.out());

        CliRunner.Result human = cli.run(prune("--keep-full", "1", "--keep-within", "0"));
        assertEquals(0, human.exit(), human.toString());
        assertTrue(human.out().contains("Deleted 2 backups (2 manifests)"), human.out());
        assertEquals(1, json(cli.run("list", "--repo", repo, "--json")).size());
    }

    @Test
    void thePolicyComesFromTheEnvironmentWithDefaultsAndAPolicyThatKeepsNothingIsRefused() throws IOException {
        Map<String, Long> before = files();
        // Defaults: 7 full backups, 7 days: everything here is kept.
        JsonNode defaults = json(cli.run(prune("--dry-run", "--json")));
        assertEquals(7, defaults.get("policy").get("keep_full").asInt());
        assertEquals("PT168H", defaults.get("policy").get("keep_within").asText());
        assertEquals(5, defaults.get("kept").size());
        assertEquals(0, defaults.get("planned").get("objects").asInt());

        CliRunner fromEnv = new CliRunner().env("POWDB_BACKUP_TEMP_DIR", tmp.resolve("scratch").toString())
                .env("POWDB_BACKUP_KEEP_FULL", "2").env("POWDB_BACKUP_KEEP_WITHIN", "off")
                .env("POWDB_BACKUP_PRUNE_GRACE", "36h");
        JsonNode env = json(fromEnv.run(prune("--dry-run", "--json")));
        assertEquals(2, env.get("policy").get("keep_full").asInt());
        assertEquals("PT36H", env.get("policy").get("grace").asText());
        assertEquals(2, env.get("deleted_backups").size());
        // Options win over the environment.
        JsonNode options = json(fromEnv.run(prune("--dry-run", "--json", "--keep-full", "1", "--grace", "2h")));
        assertEquals(4, options.get("deleted_backups").size());
        assertEquals("PT2H", options.get("policy").get("grace").asText());

        CliRunner.Result nothing = cli.run(prune("--keep-full", "0", "--keep-within", "0"));
        assertEquals(2, nothing.exit(), nothing.toString());
        assertTrue(nothing.err().startsWith("powdb-backup: error: ") && nothing.err().contains("keeps nothing"),
                nothing.toString());
        assertEquals(1, nothing.err().strip().lines().count(), nothing.toString());
        assertEquals(2, cli.run(prune("--keep-within", "soon")).exit());
        assertEquals(2, cli.run(prune("--keep-full", "-1")).exit());
        assertEquals(2, new CliRunner().env("POWDB_BACKUP_KEEP_FULL", "many").run(prune("--dry-run")).exit());
        CliRunner.Result noRepo = cli.run("prune", "--repo", tmp.resolve("nowhere").toString());
        assertEquals(1, noRepo.exit(), noRepo.toString());
        assertTrue(noRepo.err().contains("no backup repository"), noRepo.toString());
        assertEquals(before, files());
    }
}
