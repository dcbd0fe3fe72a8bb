package io.powdb.backup.store.gcs;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;
import java.util.zip.GZIPInputStream;

/**
 * The part of the GCS JSON API that google-cloud-storage's HTTP client uses for object work, served on
 * 127.0.0.1 from memory: metadata GET, media download with Range, multipart / media / resumable uploads
 * (with Content-Range chunks), listing with prefix, startOffset, maxResults and pageToken (pages hold at
 * most 7 objects, so clients must follow page tokens), delete, and the
 * {@code ifGenerationMatch} precondition (so {@code doesNotExist()} answers 412 when the object exists).
 * Request bodies may be gzip-compressed. Buckets exist once {@link #createBucket} names them.
 *
 * <p>Tests can make the next requests fail with a status ({@link #failNext}) and require a bearer token
 * ({@link #requireToken}), to see retries and authentication errors from the client's side.
 */
public final class GcsTestServer implements AutoCloseable {
    private static final Pattern OBJECT_PATH = Pattern.compile("^/(?:download/)?storage/v1/b/([^/]+)/o/(.+)$");
    private static final Pattern OBJECTS_PATH = Pattern.compile("^/(?:upload/)?storage/v1/b/([^/]+)/o/?$");
    private static final int MAX_PAGE_SIZE = 7;
    private static final Pattern CONTENT_RANGE = Pattern.compile("^bytes (\\*|(\\d+)-(\\d+))/(\\*|\\d+)$");

    private record StoredObject(String bucket, String name, byte[] data, long generation, String contentType,
                                Map<String, String> metadata, Instant updated) {
    }

    private static final class Session {
        final String bucket;
        final String name;
        final String contentType;
        final Map<String, String> metadata;
        final Long ifGenerationMatch;
        final ByteArrayOutputStream data = new ByteArrayOutputStream();

        Session(String bucket, String name, String contentType, Map<String, String> metadata, Long ifGenerationMatch) {
            this.bucket = bucket;
            this.name = name;
            this.contentType = contentType;
            this.metadata = metadata;
            this.ifGenerationMatch = ifGenerationMatch;
        }
    }

    /** A failed request: the status and message go back as a JSON API error. */
    private static final class ApiError extends Exception {
        final int status;

        ApiError(int status, String message) {
            super(message, null, false, false);
            this.status = status;
        }
    }

    private final HttpServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "gcs-test-server");
        t.setDaemon(true);
        return t;
    });
    private final Object lock = new Object();
    private final Map<String, TreeMap<String, StoredObject>> buckets = new HashMap<>();
    private final Map<String, Session> sessions = new HashMap<>();
    /** Finalised sessions: GCS answers a retried final request of a finished upload with the object it made. */
    private final Map<String, StoredObject> finishedSessions = new HashMap<>();
    private final AtomicLong generations = new AtomicLong(1_700_000_000_000_000L);
    private final AtomicInteger failuresToInject = new AtomicInteger();
    private volatile int injectedStatus;
    private volatile String requiredToken;

    static {
        // The JDK server leaves Nagle's algorithm on, which with delayed ACKs costs ~40 ms per small response.
        System.setProperty("sun.net.httpserver.nodelay", "true");
    }

    public GcsTestServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
    }

    public String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    public void createBucket(String bucket) {
        synchronized (lock) {
            buckets.putIfAbsent(bucket, new TreeMap<>());
        }
    }

    /** Resumable sessions started and not finalised. */
    public int openSessions() {
        synchronized (lock) {
            return sessions.size();
        }
    }

    /** The next {@code count} requests fail with {@code status} before doing anything. */
    public void failNext(int count, int status) {
        injectedStatus = status;
        failuresToInject.set(count);
    }

    /** Requests without {@code Authorization: Bearer token} get 401; null accepts anything. */
    public void requireToken(String token) {
        requiredToken = token;
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            try {
                checkAccess(exchange);
                route(exchange);
            } catch (ApiError e) {
                sendError(exchange, e.status, e.getMessage());
            } catch (RuntimeException e) {
                sendError(exchange, 500, "test server failure: " + e);
            }
        }
    }

    private void checkAccess(HttpExchange exchange) throws ApiError {
        String token = requiredToken;
        if (token != null && !("Bearer " + token).equals(exchange.getRequestHeaders().getFirst("Authorization"))) {
            throw new ApiError(401, "Anonymous caller does not have storage.objects access.");
        }
        if (failuresToInject.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            throw new ApiError(injectedStatus, "injected failure");
        }
    }

    private void route(HttpExchange exchange) throws IOException, ApiError {
        String method = exchange.getRequestMethod();
        String path = exchange.getRequestURI().getRawPath();
        Map<String, String> query = parseQuery(exchange.getRequestURI().getRawQuery());
        Matcher object = OBJECT_PATH.matcher(path);
        Matcher objects = OBJECTS_PATH.matcher(path);
        if (object.matches()) {
            String bucket = decodePathSegment(object.group(1));
            String name = decodePathSegment(object.group(2));
            switch (method) {
                case "GET":
                    if ("media".equals(query.get("alt"))) {
                        download(exchange, bucket, name, query);
                    } else {
                        sendJson(exchange, 200, describe(find(bucket, name, query)));
                    }
                    return;
                case "DELETE":
                    delete(bucket, name, query);
                    exchange.sendResponseHeaders(204, -1);
                    return;
                default:
                    throw new ApiError(405, method + " is not supported on objects here");
            }
        }
        if (objects.matches()) {
            String bucket = decodePathSegment(objects.group(1));
            boolean upload = path.startsWith("/upload/");
            if (!upload && method.equals("GET")) {
                sendJson(exchange, 200, list(bucket, query));
            } else if (upload && method.equals("POST")) {
                startUpload(exchange, bucket, query);
            } else if (upload && method.equals("PUT") && query.containsKey("upload_id")) {
                continueUpload(exchange, query.get("upload_id"));
            } else if (upload && method.equals("DELETE") && query.containsKey("upload_id")) {
                synchronized (lock) {
                    sessions.remove(query.get("upload_id"));
                }
                exchange.sendResponseHeaders(499, -1);
            } else {
                throw new ApiError(405, method + " " + path + " is not supported here");
            }
            return;
        }
        throw new ApiError(404, "no such API path " + path);
    }

    // ---- reads ----

    private StoredObject find(String bucket, String name, Map<String, String> query) throws ApiError {
        synchronized (lock) {
            StoredObject found = bucket(bucket).get(name);
            if (found == null || (query.containsKey("generation")
                    && Long.parseLong(query.get("generation")) != found.generation())) {
                throw new ApiError(404, "No such object: " + bucket + "/" + name);
            }
            checkGeneration(query, found);
            return found;
        }
    }

    private void download(HttpExchange exchange, String bucket, String name, Map<String, String> query)
            throws IOException, ApiError {
        StoredObject found = find(bucket, name, query);
        byte[] data = found.data();
        long start = 0;
        long end = data.length; // exclusive
        String range = exchange.getRequestHeaders().getFirst("Range");
        int status = 200;
        if (range != null) {
            Matcher m = Pattern.compile("^bytes=(\\d+)-(\\d*)$").matcher(range.trim());
            if (!m.matches()) {
                throw new ApiError(400, "unsupported Range " + range);
            }
            start = Long.parseLong(m.group(1));
            if (!m.group(2).isEmpty()) {
                end = Math.min(end, Long.parseLong(m.group(2)) + 1);
            }
            if (start >= data.length) {
                exchange.getResponseHeaders().set("Content-Range", "bytes */" + data.length);
                throw new ApiError(416, "The requested range cannot be satisfied.");
            }
            status = 206;
            exchange.getResponseHeaders().set("Content-Range", "bytes " + start + "-" + (end - 1) + "/" + data.length);
        }
        exchange.getResponseHeaders().set("Content-Type", found.contentType());
        exchange.getResponseHeaders().set("x-goog-generation", String.valueOf(found.generation()));
        exchange.getResponseHeaders().set("x-goog-metageneration", "1");
        exchange.getResponseHeaders().set("x-goog-stored-content-length", String.valueOf(data.length));
        int length = (int) (end - start);
        exchange.sendResponseHeaders(status, length == 0 ? -1 : length);
        if (length > 0) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(data, (int) start, length);
            }
        }
    }

    private JsonObject list(String bucket, Map<String, String> query) throws ApiError {
        String prefix = query.getOrDefault("prefix", "");
        String startOffset = query.get("startOffset");
        String pageToken = query.get("pageToken");
        // Like GCS, pages may be shorter than asked for; a small cap makes clients follow nextPageToken.
        int maxResults = Math.min(MAX_PAGE_SIZE, Integer.parseInt(query.getOrDefault("maxResults", "1000")));
        JsonArray items = new JsonArray();
        String next = null;
        synchronized (lock) {
            // The token is the last name of the previous page; the next page starts after it.
            String from = pageToken == null ? ""
                    : new String(Base64.getUrlDecoder().decode(pageToken), StandardCharsets.UTF_8) + "\0";
            if (startOffset != null && startOffset.compareTo(from) > 0) {
                from = startOffset;
            }
            SortedMap<String, StoredObject> view = bucket(bucket).tailMap(from);
            for (StoredObject o : view.values()) {
                if (!o.name().startsWith(prefix)) {
                    if (o.name().compareTo(prefix) > 0) {
                        break;
                    }
                    continue;
                }
                if (items.size() == maxResults) {
                    next = Base64.getUrlEncoder().encodeToString(
                            items.get(items.size() - 1).getAsJsonObject().get("name").getAsString().getBytes(StandardCharsets.UTF_8));
                    break;
                }
                items.add(describe(o));
            }
        }
        JsonObject response = new JsonObject();
        response.addProperty("kind", "storage#objects");
        response.add("items", items);
        if (next != null) {
            response.addProperty("nextPageToken", next);
        }
        return response;
    }

    private void delete(String bucket, String name, Map<String, String> query) throws ApiError {
        synchronized (lock) {
            find(bucket, name, query);
            bucket(bucket).remove(name);
        }
    }

    // ---- writes ----

    private void startUpload(HttpExchange exchange, String bucket, Map<String, String> query) throws IOException, ApiError {
        String type = query.getOrDefault("uploadType", "");
        byte[] body = readBody(exchange);
        Long ifGenerationMatch = query.containsKey("ifGenerationMatch") ? Long.parseLong(query.get("ifGenerationMatch")) : null;
        switch (type) {
            case "media": {
                String name = required(query, "name");
                sendJson(exchange, 200, describe(store(bucket, name, contentTypeOf(exchange), Map.of(), body, ifGenerationMatch)));
                return;
            }
            case "multipart": {
                Multipart parts = Multipart.parse(exchange.getRequestHeaders().getFirst("Content-Type"), body);
                JsonObject resource = JsonParser.parseString(new String(parts.metadata, StandardCharsets.UTF_8)).getAsJsonObject();
                String name = resource.has("name") ? resource.get("name").getAsString() : required(query, "name");
                verifyChecksums(resource, parts.media);
                sendJson(exchange, 200, describe(store(bucket, name, contentTypeOf(resource, parts.mediaContentType),
                        metadataOf(resource), parts.media, ifGenerationMatch)));
                return;
            }
            case "resumable": {
                JsonObject resource = body.length == 0 ? new JsonObject()
                        : JsonParser.parseString(new String(body, StandardCharsets.UTF_8)).getAsJsonObject();
                String name = resource.has("name") ? resource.get("name").getAsString() : required(query, "name");
                synchronized (lock) {
                    bucket(bucket);
                    checkPrecondition(bucket, name, ifGenerationMatch);
                    String id = UUID.randomUUID().toString();
                    sessions.put(id, new Session(bucket, name, contentTypeOf(resource, "application/octet-stream"),
                            metadataOf(resource), ifGenerationMatch));
                    // Like GCS, the session URL names the host the client asked (a proxy in front stays in front).
                    String host = exchange.getRequestHeaders().getFirst("Host");
                    String base = host == null ? endpoint() : "http://" + host;
                    exchange.getResponseHeaders().set("Location", base + "/upload/storage/v1/b/" + bucket
                            + "/o?uploadType=resumable&upload_id=" + id);
                }
                exchange.sendResponseHeaders(200, -1);
                return;
            }
            default:
                throw new ApiError(400, "unsupported uploadType " + type);
        }
    }

    private void continueUpload(HttpExchange exchange, String id) throws IOException, ApiError {
        byte[] body = readBody(exchange);
        String header = exchange.getRequestHeaders().getFirst("Content-Range");
        Matcher range = CONTENT_RANGE.matcher(header == null ? "bytes */*" : header.trim());
        if (!range.matches()) {
            throw new ApiError(400, "bad Content-Range " + header);
        }
        StoredObject finished;
        long received;
        synchronized (lock) {
            Session session = sessions.get(id);
            if (session == null) {
                // A retry of the request that finalised the upload, whose answer was lost: GCS answers it with
                // the object the upload made.
                finished = finishedSessions.get(id);
                if (finished == null) {
                    throw new ApiError(404, "no upload session " + id);
                }
                received = finished.data().length;
            } else {
                if (range.group(2) != null) {
                    long first = Long.parseLong(range.group(2));
                    long last = Long.parseLong(range.group(3));
                    if (last - first + 1 != body.length) {
                        throw new ApiError(400, "Content-Range " + header + " does not match a body of " + body.length + " bytes");
                    }
                    long have = session.data.size();
                    if (first > have) {
                        throw new ApiError(400, "chunk starts at " + first + " but only " + have + " bytes were received");
                    }
                    // A retried chunk may overlap bytes already received: keep only what is new.
                    int skip = (int) (have - first);
                    if (skip < body.length) {
                        session.data.write(body, skip, body.length - skip);
                    }
                }
                received = session.data.size();
                finished = null;
                if (!range.group(4).equals("*")) {
                    long total = Long.parseLong(range.group(4));
                    if (received == total) {
                        sessions.remove(id);
                        finished = store(session.bucket, session.name, session.contentType, session.metadata,
                                session.data.toByteArray(), session.ifGenerationMatch);
                        finishedSessions.put(id, finished);
                    } else if (received > total) {
                        throw new ApiError(400, "received " + received + " bytes for an object of " + total);
                    }
                }
            }
        }
        if (finished != null) {
            sendJson(exchange, 200, describe(finished));
            return;
        }
        if (received > 0) {
            exchange.getResponseHeaders().set("Range", "bytes=0-" + (received - 1));
        }
        exchange.sendResponseHeaders(308, -1);
    }

    private StoredObject store(String bucket, String name, String contentType, Map<String, String> metadata,
                               byte[] data, Long ifGenerationMatch) throws ApiError {
        synchronized (lock) {
            checkPrecondition(bucket, name, ifGenerationMatch);
            StoredObject stored = new StoredObject(bucket, name, data, generations.incrementAndGet(), contentType,
                    metadata, Instant.now());
            bucket(bucket).put(name, stored);
            return stored;
        }
    }

    private void checkPrecondition(String bucket, String name, Long ifGenerationMatch) throws ApiError {
        if (ifGenerationMatch == null) {
            return;
        }
        StoredObject existing = bucket(bucket).get(name);
        long generation = existing == null ? 0 : existing.generation();
        if (generation != ifGenerationMatch) {
            throw new ApiError(412, "At least one of the pre-conditions you specified did not hold.");
        }
    }

    private static void checkGeneration(Map<String, String> query, StoredObject found) throws ApiError {
        if (query.containsKey("ifGenerationMatch") && Long.parseLong(query.get("ifGenerationMatch")) != found.generation()) {
            throw new ApiError(412, "At least one of the pre-conditions you specified did not hold.");
        }
    }

    /** The client sends crc32c/md5Hash of what it uploads; a real server rejects a mismatch, so this one does too. */
    private static void verifyChecksums(JsonObject resource, byte[] data) throws ApiError {
        if (resource.has("crc32c") && !resource.get("crc32c").getAsString().equals(crc32c(data))) {
            throw new ApiError(400, "Provided CRC32C does not match the data");
        }
        if (resource.has("md5Hash") && !resource.get("md5Hash").getAsString().equals(md5(data))) {
            throw new ApiError(400, "Provided MD5 hash does not match the data");
        }
    }

    private TreeMap<String, StoredObject> bucket(String bucket) throws ApiError {
        TreeMap<String, StoredObject> objects = buckets.get(bucket);
        if (objects == null) {
            throw new ApiError(404, "The specified bucket does not exist: " + bucket);
        }
        return objects;
    }

    // ---- encoding ----

    private static JsonObject describe(StoredObject o) {
        JsonObject json = new JsonObject();
        json.addProperty("kind", "storage#object");
        json.addProperty("id", o.bucket() + "/" + o.name() + "/" + o.generation());
        json.addProperty("name", o.name());
        json.addProperty("bucket", o.bucket());
        json.addProperty("generation", String.valueOf(o.generation()));
        json.addProperty("metageneration", "1");
        json.addProperty("contentType", o.contentType());
        json.addProperty("size", String.valueOf(o.data().length));
        json.addProperty("crc32c", crc32c(o.data()));
        json.addProperty("md5Hash", md5(o.data()));
        json.addProperty("timeCreated", o.updated().toString());
        json.addProperty("updated", o.updated().toString());
        json.addProperty("storageClass", "STANDARD");
        if (!o.metadata().isEmpty()) {
            JsonObject metadata = new JsonObject();
            o.metadata().forEach(metadata::addProperty);
            json.add("metadata", metadata);
        }
        return json;
    }

    private static String crc32c(byte[] data) {
        CRC32C crc = new CRC32C();
        crc.update(data);
        return Base64.getEncoder().encodeToString(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    private static String md5(byte[] data) {
        try {
            return Base64.getEncoder().encodeToString(MessageDigest.getInstance("MD5").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Map<String, String> metadataOf(JsonObject resource) {
        Map<String, String> metadata = new LinkedHashMap<>();
        if (resource.has("metadata") && resource.get("metadata").isJsonObject()) {
            for (Map.Entry<String, JsonElement> e : resource.getAsJsonObject("metadata").entrySet()) {
                metadata.put(e.getKey(), e.getValue().getAsString());
            }
        }
        return metadata;
    }

    private static String contentTypeOf(JsonObject resource, String fallback) {
        return resource.has("contentType") ? resource.get("contentType").getAsString() : fallback;
    }

    private static String contentTypeOf(HttpExchange exchange) {
        String type = exchange.getRequestHeaders().getFirst("Content-Type");
        return type == null ? "application/octet-stream" : type;
    }

    private static String required(Map<String, String> query, String name) throws ApiError {
        String value = query.get(name);
        if (value == null) {
            throw new ApiError(400, "missing parameter " + name);
        }
        return value;
    }

    private static byte[] readBody(HttpExchange exchange) throws IOException {
        InputStream in = exchange.getRequestBody();
        if ("gzip".equalsIgnoreCase(exchange.getRequestHeaders().getFirst("Content-Encoding"))) {
            in = new GZIPInputStream(in);
        }
        return in.readAllBytes();
    }

    private static Map<String, String> parseQuery(String rawQuery) {
        Map<String, String> query = new HashMap<>();
        if (rawQuery == null || rawQuery.isEmpty()) {
            return query;
        }
        for (String pair : rawQuery.split("&")) {
            int eq = pair.indexOf('=');
            String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            query.put(key, value);
        }
        return query;
    }

    /** Percent-decoding without URLDecoder's '+'-means-space rule, which does not apply to paths. */
    private static String decodePathSegment(String raw) {
        return URLDecoder.decode(raw.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    private static void sendJson(HttpExchange exchange, int status, JsonObject json) throws IOException {
        byte[] body = json.toString().getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json; charset=UTF-8");
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    private static void sendError(HttpExchange exchange, int status, String message) throws IOException {
        JsonObject detail = new JsonObject();
        detail.addProperty("domain", "global");
        detail.addProperty("reason", status == 412 ? "conditionNotMet" : status == 404 ? "notFound" : "error");
        detail.addProperty("message", message);
        JsonArray errors = new JsonArray();
        errors.add(detail);
        JsonObject error = new JsonObject();
        error.addProperty("code", status);
        error.addProperty("message", message);
        error.add("errors", errors);
        JsonObject json = new JsonObject();
        json.add("error", error);
        sendJson(exchange, status, json);
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }

    /** A multipart/related body as the client sends it: a JSON resource part, then the media part. */
    private record Multipart(byte[] metadata, byte[] media, String mediaContentType) {
        static Multipart parse(String contentType, byte[] body) throws ApiError {
            Matcher m = Pattern.compile("boundary=\"?([^\";]+)\"?").matcher(contentType == null ? "" : contentType);
            if (!m.find()) {
                throw new ApiError(400, "multipart upload without a boundary");
            }
            byte[] delimiter = ("--" + m.group(1)).getBytes(StandardCharsets.ISO_8859_1);
            List<byte[]> parts = new java.util.ArrayList<>();
            int at = indexOf(body, delimiter, 0);
            while (at >= 0) {
                int partStart = at + delimiter.length;
                if (partStart + 1 < body.length && body[partStart] == '-' && body[partStart + 1] == '-') {
                    break; // closing delimiter
                }
                int next = indexOf(body, delimiter, partStart);
                if (next < 0) {
                    throw new ApiError(400, "unterminated multipart body");
                }
                parts.add(Arrays.copyOfRange(body, partStart, next));
                at = next;
            }
            if (parts.size() != 2) {
                throw new ApiError(400, "expected 2 multipart parts, got " + parts.size());
            }
            Part metadata = Part.of(parts.get(0));
            Part media = Part.of(parts.get(1));
            return new Multipart(metadata.content, media.content, media.headers.getOrDefault("content-type", "application/octet-stream"));
        }
    }

    /** One part: CRLF, headers, a blank line, content, CRLF (before the next delimiter). */
    private record Part(Map<String, String> headers, byte[] content) {
        static Part of(byte[] raw) throws ApiError {
            byte[] blankLine = "\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
            int split = indexOf(raw, blankLine, 0);
            if (split < 0) {
                throw new ApiError(400, "multipart part without headers");
            }
            Map<String, String> headers = new HashMap<>();
            for (String line : new String(raw, 0, split, StandardCharsets.ISO_8859_1).split("\r\n")) {
                int colon = line.indexOf(':');
                if (colon > 0) {
                    headers.put(line.substring(0, colon).trim().toLowerCase(java.util.Locale.ROOT), line.substring(colon + 1).trim());
                }
            }
            int start = split + blankLine.length;
            int end = raw.length;
            if (end - 2 >= start && raw[end - 2] == '\r' && raw[end - 1] == '\n') {
                end -= 2;
            }
            return new Part(headers, Arrays.copyOfRange(raw, start, end));
        }
    }

    private static int indexOf(byte[] haystack, byte[] needle, int from) {
        outer:
        for (int i = from; i <= haystack.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
