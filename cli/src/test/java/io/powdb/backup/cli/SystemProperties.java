package io.powdb.backup.cli;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.HashMap;
import java.util.Map;

/**
 * System properties a test sets (AWS credentials for the SDK's default chain), each put back as it was
 * after every test. Register with {@code @RegisterExtension}.
 */
final class SystemProperties implements AfterEachCallback {
    private final Map<String, String> saved = new HashMap<>();

    void set(String name, String value) {
        saved.putIfAbsent(name, System.getProperty(name));
        System.setProperty(name, value);
    }

    @Override
    public void afterEach(ExtensionContext context) {
        saved.forEach((name, before) -> {
            if (before == null) {
                System.clearProperty(name);
            } else {
                System.setProperty(name, before);
            }
        });
        saved.clear();
    }
}
