package io.powdb.backup.service;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.powdb.backup.repo.Json;

import java.io.PrintStream;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Clock;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The long-running agent's log, without a logging framework: one event per line, either a JSON object
 * ({@link Format#JSON}, for log shippers)
 *
 * <pre>{"ts":"2026-11-21T10:00:00.000Z","level":"INFO","event":"backup.done","msg":"full backup done","bytes":1024}</pre>
 *
 * or a line of text ({@link Format#TEXT}, for people)
 *
 * <pre>2026-11-21T10:00:00.000Z INFO backup.done full backup done bytes=1024 target="s3://bucket/a b"</pre>
 *
 * <p>{@code ts} is the time of the call in UTC with millisecond precision. Fields follow in the map's iteration
 * order; a field named like one of the four fixed ones ({@code ts}, {@code level}, {@code event}, {@code msg}) is
 * written with a leading underscore ({@code _level}) so a line never has a key twice. Values are rendered as JSON
 * scalars where they are numbers, booleans or null, nested maps and collections as JSON objects and arrays, and
 * anything else as its {@code toString()}. A {@link Throwable} becomes {@code "Class: message"} for it and its
 * causes, never a stack trace. JSON goes through {@link Json#MAPPER}, so a {@code long} is written as unsigned
 * (like every long the agent writes, since LSNs are unsigned): log a signed quantity that can be negative as an
 * {@code int}, a {@code BigInteger} or a string. The text format prints longs the same way.
 *
 * <h2>Redaction</h2>
 * Secrets are removed before anything is written:
 * <ul>
 *   <li>a field (at any depth) whose name looks secret has its value replaced by {@code "[redacted]"}: a name
 *       containing {@code secret}, {@code password}, {@code passwd}, {@code passphrase}, {@code token},
 *       {@code credential}, {@code authorization} or {@code cookie}, or having a word {@code key} (or
 *       {@code ...key}, such as {@code apiKey}, {@code access_key}, {@code privatekey}) — unless that word is
 *       followed by {@code id}, {@code name}, {@code alias}, {@code arn} or {@code fingerprint}. So
 *       {@code key_id}, {@code access_key_id} and {@code kms_key_arn} are written as they are: they name a key
 *       (AWS documents the access key ID as not secret) and are what one needs to tell which credentials were
 *       used, whereas {@code secret_key_id} is still redacted (it contains "secret"). Words are split at
 *       {@code _ - . space} and at camelCase humps. A storage object's name logged as {@code object_key} is
 *       redacted too; log it as {@code object} or {@code path}.</li>
 *   <li>in every string written — the message, values, nested values, exception messages — the user-info of a
 *       URL ({@code scheme://user:password@host}) is removed, leaving {@code scheme://host}.</li>
 *   <li>a {@code char[]} value (the Java idiom for a password) is always redacted.</li>
 * </ul>
 * This catches secrets that are labelled or embedded in URLs; it cannot recognize a bare secret in free text, so
 * never put one in a message.
 *
 * <p>Thread-safe: each line is built first and written with one call while holding the stream's lock, so lines
 * from different threads never interleave (also with other code that prints to the same {@link PrintStream}).
 */
public final class JsonLog {
    public enum Level { DEBUG, INFO, WARN, ERROR }

    public enum Format { JSON, TEXT }

    /** What a secret value is written as. */
    public static final String REDACTED = "[redacted]";

    private static final DateTimeFormatter TS =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'", Locale.ROOT).withZone(ZoneOffset.UTC);
    private static final Set<String> RESERVED = Set.of("ts", "level", "event", "msg");
    private static final int MAX_DEPTH = 8;

    /** Substrings of a field name (lower-cased, separators removed) that make it secret. */
    private static final List<String> SECRET_PARTS = List.of(
            "secret", "password", "passwd", "passphrase", "token", "credential", "authorization", "cookie");
    /** Words after {@code key} that make the field the name of a key rather than the key. */
    private static final Set<String> KEY_NAMING_WORDS = Set.of("id", "ids", "name", "alias", "arn", "fingerprint");
    private static final Pattern WORD_BOUNDARY = Pattern.compile("[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])");
    /**
     * scheme:// then user-info: one or more {@code user[:password]@}. A password may hold an unescaped '/', '?'
     * or '#', and several '@' are all taken as part of the user-info: better to remove too much (in the rare URL
     * with a port and an '@' in its path, {@code https://host:8080/a@b} becomes {@code https://b}) than to leave
     * part of a password. The user part excludes ':' so matching stays linear.
     */
    private static final Pattern URL_USER_INFO =
            Pattern.compile("\\b([A-Za-z][A-Za-z0-9+.\\-]*://)(?:[^\\s/?#@:]*(?::[^\\s@]*)?@)+");

    private final PrintStream out;
    private final Format format;
    private final Level minimum;
    private final Clock clock;

    /** A log writing every level to {@code out} in {@code format}. */
    public JsonLog(PrintStream out, Format format) {
        this(out, format, Level.DEBUG, Clock.systemUTC());
    }

    /** @param minimum events below this level are dropped */
    public JsonLog(PrintStream out, Format format, Level minimum, Clock clock) {
        this.out = Objects.requireNonNull(out, "out");
        this.format = Objects.requireNonNull(format, "format");
        this.minimum = Objects.requireNonNull(minimum, "minimum");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    public boolean enabled(Level level) {
        return level.compareTo(minimum) >= 0;
    }

    /** Logs {@code event} without a message ({@code "msg":""}). */
    public void log(Level level, String event, Map<String, ?> fields) {
        log(level, event, null, fields);
    }

    /**
     * Writes one line.
     *
     * @param event  a short dotted name for what happened, e.g. {@code backup.done}
     * @param msg    for people; may be null
     * @param fields may be null; values may be null
     */
    public void log(Level level, String event, String msg, Map<String, ?> fields) {
        Objects.requireNonNull(level, "level");
        Objects.requireNonNull(event, "event");
        if (!enabled(level)) {
            return;
        }
        String ts = TS.format(clock.instant());
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("ts", ts);
        line.put("level", level.name());
        line.put("event", scrub(event));
        line.put("msg", msg == null ? "" : scrub(msg));
        if (fields != null) {
            for (Map.Entry<String, ?> field : fields.entrySet()) {
                String key = String.valueOf(field.getKey());
                while (line.containsKey(key)) {
                    key = "_" + key; // a reserved name, or one a renamed field already took
                }
                line.put(key, isSecretName(key) ? REDACTED : safe(field.getValue(), 0));
            }
        }
        String text = format == Format.JSON ? json(line) : text(line);
        synchronized (out) {
            out.print(text + "\n");
            out.flush();
        }
    }

    public void debug(String event, String msg, Map<String, ?> fields) {
        log(Level.DEBUG, event, msg, fields);
    }

    public void info(String event, String msg, Map<String, ?> fields) {
        log(Level.INFO, event, msg, fields);
    }

    public void warn(String event, String msg, Map<String, ?> fields) {
        log(Level.WARN, event, msg, fields);
    }

    public void error(String event, String msg, Map<String, ?> fields) {
        log(Level.ERROR, event, msg, fields);
    }

    /**
     * Whether a field called {@code name} holds a secret, by the rules in the class comment.
     */
    public static boolean isSecretName(String name) {
        if (name == null) {
            return false;
        }
        String flat = name.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]", "");
        for (String part : SECRET_PARTS) {
            if (flat.contains(part)) {
                return true;
            }
        }
        String[] words = WORD_BOUNDARY.split(name);
        for (int i = 0; i < words.length; i++) {
            String word = words[i].toLowerCase(Locale.ROOT);
            if (word.equals("key") || word.equals("keys") || (word.endsWith("key") && isKeyCompound(word))) {
                boolean namesTheKey = i + 1 < words.length
                        && KEY_NAMING_WORDS.contains(words[i + 1].toLowerCase(Locale.ROOT));
                if (!namesTheKey) {
                    return true;
                }
            }
        }
        return false;
    }

    /** apikey, accesskey, privatekey, ... but not monkey or turnkey. */
    private static boolean isKeyCompound(String word) {
        return switch (word) {
            case "apikey", "accesskey", "privatekey", "secretkey", "sessionkey", "signingkey", "encryptionkey",
                    "masterkey", "sharedkey", "accountkey", "hmackey", "sslkey", "tlskey", "sshkey" -> true;
            default -> false;
        };
    }

    /** {@code text} with the user-info of every URL in it removed: {@code s3://a:b@host/x} → {@code s3://host/x}. */
    public static String scrub(String text) {
        if (text == null || text.indexOf("://") < 0) {
            return text;
        }
        Matcher m = URL_USER_INFO.matcher(text);
        return m.find() ? m.replaceAll("$1") : text;
    }

    /** A value made of JSON-friendly types only, with secrets removed. */
    private static Object safe(Object value, int depth) {
        if (value == null || value instanceof Boolean || value instanceof Integer || value instanceof Long
                || value instanceof Short || value instanceof Byte || value instanceof BigInteger
                || value instanceof BigDecimal) {
            return value;
        }
        if (value instanceof Double || value instanceof Float) {
            double d = ((Number) value).doubleValue();
            return Double.isFinite(d) ? value : String.valueOf(d);
        }
        if (value instanceof CharSequence || value instanceof Number || value instanceof Character) {
            return scrub(value.toString());
        }
        if (value instanceof char[]) {
            return REDACTED;
        }
        if (value instanceof byte[] bytes) {
            return "[" + bytes.length + " bytes]";
        }
        if (value instanceof Enum<?> e) {
            return e.name();
        }
        if (value instanceof Throwable t) {
            return describe(t);
        }
        if (depth >= MAX_DEPTH) {
            return "[...]";
        }
        if (value instanceof Map<?, ?> map) {
            Map<String, Object> copy = new LinkedHashMap<>();
            for (Map.Entry<?, ?> entry : map.entrySet()) {
                String key = String.valueOf(entry.getKey());
                copy.put(key, isSecretName(key) ? REDACTED : safe(entry.getValue(), depth + 1));
            }
            return copy;
        }
        if (value instanceof Collection<?> collection) {
            List<Object> copy = new ArrayList<>(collection.size());
            for (Object element : collection) {
                copy.add(safe(element, depth + 1));
            }
            return copy;
        }
        if (value instanceof Object[] array) {
            List<Object> copy = new ArrayList<>(array.length);
            for (Object element : array) {
                copy.add(safe(element, depth + 1));
            }
            return copy;
        }
        return scrub(String.valueOf(value));
    }

    /** "Class: message; caused by Class: message", without stack frames. */
    private static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder();
        int depth = 0;
        for (Throwable cause = t; cause != null && depth < 5; cause = cause.getCause(), depth++) {
            if (depth > 0) {
                sb.append("; caused by ");
            }
            sb.append(cause.getClass().getName());
            if (cause.getMessage() != null) {
                sb.append(": ").append(cause.getMessage());
            }
            if (cause.getCause() == cause) {
                break;
            }
        }
        return scrub(sb.toString());
    }

    private static String json(Map<String, Object> line) {
        try {
            return Json.MAPPER.writeValueAsString(line);
        } catch (JsonProcessingException e) {
            // Cannot happen with the types safe() produces; keep the line rather than lose the event.
            Map<String, Object> fallback = new LinkedHashMap<>();
            fallback.put("ts", line.get("ts"));
            fallback.put("level", line.get("level"));
            fallback.put("event", line.get("event"));
            fallback.put("msg", line.get("msg"));
            fallback.put("log_error", "fields not serializable: " + e.getClass().getSimpleName());
            try {
                return Json.MAPPER.writeValueAsString(fallback);
            } catch (JsonProcessingException impossible) {
                throw new IllegalStateException(impossible);
            }
        }
    }

    /** {@code ts LEVEL event msg key=value ...}; values with spaces, quotes or '=' are quoted. */
    private static String text(Map<String, Object> line) {
        StringBuilder sb = new StringBuilder(128);
        sb.append(line.get("ts")).append(' ').append(line.get("level")).append(' ')
                .append(oneLine((String) line.get("event")));
        String msg = (String) line.get("msg");
        if (!msg.isEmpty()) {
            sb.append(' ').append(oneLine(msg));
        }
        for (Map.Entry<String, Object> field : line.entrySet()) {
            if (RESERVED.contains(field.getKey())) {
                continue;
            }
            sb.append(' ').append(quoteIfNeeded(field.getKey())).append('=').append(textValue(field.getValue()));
        }
        return sb.toString();
    }

    private static String textValue(Object value) {
        if (value instanceof Long l) {
            return Long.toUnsignedString(l); // as Json.MAPPER writes it
        }
        if (value instanceof Map<?, ?> || value instanceof List<?>) {
            return quoteIfNeeded(json(value));
        }
        return quoteIfNeeded(String.valueOf(value));
    }

    private static String json(Object value) {
        try {
            return Json.MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            return "[unprintable]";
        }
    }

    private static String quoteIfNeeded(String s) {
        boolean plain = !s.isEmpty();
        for (int i = 0; i < s.length() && plain; i++) {
            char c = s.charAt(i);
            plain = c > ' ' && c != '"' && c != '=' && c != '\\' && c != 0x7f && c != '\u2028' && c != '\u2029';
        }
        if (plain) {
            return s;
        }
        StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
        appendEscaped(sb, s, true);
        return sb.append('"').toString();
    }

    /** The message part of a text line: kept as is except that line breaks and control characters are escaped. */
    private static String oneLine(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        appendEscaped(sb, s, false);
        return sb.toString();
    }

    private static void appendEscaped(StringBuilder sb, String s, boolean quoted) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '"' -> sb.append(quoted ? "\\\"" : "\"");
                case '\\' -> sb.append(quoted ? "\\\\" : "\\");
                default -> {
                    if (c < ' ' || c == 0x7f || c == '\u2028' || c == '\u2029') {
                        sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
    }
}
