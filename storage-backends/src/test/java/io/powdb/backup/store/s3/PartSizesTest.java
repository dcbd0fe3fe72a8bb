package io.powdb.backup.store.s3;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PartSizesTest {
    private static final long MIB = 1024 * 1024;

    @Test
    void partsDoubleEveryThousandAndStayWithinAnArray() {
        assertEquals(16 * MIB, PartSizes.sizeOf(1, 16 * MIB));
        assertEquals(16 * MIB, PartSizes.sizeOf(1000, 16 * MIB));
        assertEquals(32 * MIB, PartSizes.sizeOf(1001, 16 * MIB));
        assertEquals(16 * MIB << 6, PartSizes.sizeOf(6001, 16 * MIB));
        assertEquals(PartSizes.MAX_PART_SIZE, PartSizes.sizeOf(10_000, 16 * MIB));
        assertTrue(PartSizes.MAX_PART_SIZE <= Integer.MAX_VALUE);
        assertThrows(IllegalArgumentException.class, () -> PartSizes.sizeOf(10_001, 16 * MIB));
        assertThrows(IllegalArgumentException.class, () -> PartSizes.sizeOf(0, 16 * MIB));
    }

    @Test
    void theDefaultPartSizeReachesS3sFiveTebibyteObjectLimit() {
        assertTrue(PartSizes.maxObjectSize(S3StoreConfig.DEFAULT_PART_SIZE) >= 5L * 1024 * 1024 * MIB);
        // Objects up to ~15 GiB keep the small first part size, and so the writer's small memory footprint.
        assertTrue(1000 * PartSizes.sizeOf(1000, S3StoreConfig.DEFAULT_PART_SIZE) > 15L * 1024 * MIB);
    }
}
