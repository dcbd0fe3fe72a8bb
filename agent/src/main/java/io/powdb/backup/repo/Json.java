package io.powdb.backup.repo;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;

import java.io.IOException;
import java.math.BigInteger;

/**
 * The one JSON configuration for everything the agent stores or prints: snake_case names, strict parsing
 * (unknown fields, duplicate keys and nulls for numbers are errors, since stored JSON is untrusted input),
 * and every long written as an unsigned 64-bit number, because PowDB's LSNs are unsigned.
 */
public final class Json {
    private static final BigInteger TWO_TO_64 = BigInteger.ONE.shiftLeft(64);

    public static final ObjectMapper MAPPER = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
            .addModule(new SimpleModule("unsigned-longs")
                    .addSerializer(Long.class, new UnsignedLongSerializer())
                    .addSerializer(Long.TYPE, new UnsignedLongSerializer())
                    .addDeserializer(Long.class, new UnsignedLongDeserializer())
                    .addDeserializer(Long.TYPE, new UnsignedLongDeserializer()))
            .build();

    private Json() {
    }

    /** Writes {@code value} as a JSON number read as unsigned: 2^63 and above stay positive. */
    public static void writeUnsigned(JsonGenerator gen, long value) throws IOException {
        if (value >= 0) {
            gen.writeNumber(value);
        } else {
            gen.writeNumber(new BigInteger(Long.toUnsignedString(value)));
        }
    }

    static final class UnsignedLongSerializer extends JsonSerializer<Long> {
        @Override
        public void serialize(Long value, JsonGenerator gen, SerializerProvider serializers) throws IOException {
            writeUnsigned(gen, value);
        }
    }

    static final class UnsignedLongDeserializer extends JsonDeserializer<Long> {
        @Override
        public Long deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            if (p.currentToken() != JsonToken.VALUE_NUMBER_INT) {
                return (Long) ctxt.handleUnexpectedToken(Long.class, p);
            }
            BigInteger value = p.getBigIntegerValue();
            if (value.signum() < 0 || value.compareTo(TWO_TO_64) >= 0) {
                throw ctxt.weirdNumberException(value, Long.class, "outside 0..2^64-1");
            }
            return value.longValue();
        }
    }
}
