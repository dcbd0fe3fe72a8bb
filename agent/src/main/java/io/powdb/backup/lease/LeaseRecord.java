package io.powdb.backup.lease;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectReader;
import io.powdb.backup.Version;
import io.powdb.backup.repo.Json;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;

/** The JSON body of a lease object, {@code locks/lease-EPOCH.json}. Times are ISO-8601 UTC. */
record LeaseRecord(String holder, long epoch, String acquiredAt, String renewedAt, String expiresAt, long ttlSeconds,
                   String toolVersion) {

    /*
     * Unknown fields are tolerated, unlike elsewhere: during a rolling update an older agent must still
     * honour a lease written by a newer one that added a field. Everything this class needs is checked.
     */
    private static final ObjectReader READER = Json.MAPPER.readerFor(LeaseRecord.class)
            .without(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    static LeaseRecord create(String holder, long epoch, Instant acquiredAt, Instant renewedAt, Duration ttl) {
        return new LeaseRecord(holder, epoch, acquiredAt.toString(), renewedAt.toString(),
                renewedAt.plus(ttl).toString(), ttl.toSeconds(), Version.current());
    }

    byte[] encode() throws IOException {
        return Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(this);
    }

    /**
     * Reads a lease object's body.
     *
     * @param keyEpoch the epoch in the object's key, which the body must repeat (a copied object is not a lease)
     * @throws MalformedLeaseException saying what is wrong
     */
    static LeaseRecord decode(byte[] raw, long keyEpoch) throws MalformedLeaseException {
        LeaseRecord lease;
        try {
            lease = READER.readValue(raw);
        } catch (JsonProcessingException e) {
            throw new MalformedLeaseException("not lease JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new MalformedLeaseException("not lease JSON: " + e.getMessage());
        }
        if (lease.holder == null || lease.holder.isBlank()) {
            throw new MalformedLeaseException("no holder");
        }
        if (lease.epoch != keyEpoch) {
            throw new MalformedLeaseException("epoch " + lease.epoch + " in an object named for epoch " + keyEpoch);
        }
        if (lease.ttlSeconds <= 0) {
            throw new MalformedLeaseException("ttl_seconds " + lease.ttlSeconds);
        }
        lease.acquired();
        lease.renewed();
        lease.expires();
        return lease;
    }

    Instant acquired() throws MalformedLeaseException {
        return parse("acquired_at", acquiredAt);
    }

    Instant renewed() throws MalformedLeaseException {
        return parse("renewed_at", renewedAt);
    }

    Instant expires() throws MalformedLeaseException {
        return parse("expires_at", expiresAt);
    }

    private static Instant parse(String field, String value) throws MalformedLeaseException {
        if (value == null) {
            throw new MalformedLeaseException("no " + field);
        }
        try {
            return Instant.parse(value);
        } catch (DateTimeParseException e) {
            throw new MalformedLeaseException(field + " \"" + value + "\" is not an ISO-8601 UTC time");
        }
    }

    /** A lease object that cannot be understood; the message says why, for the operator. */
    static final class MalformedLeaseException extends Exception {
        MalformedLeaseException(String message) {
            super(message);
        }
    }
}
