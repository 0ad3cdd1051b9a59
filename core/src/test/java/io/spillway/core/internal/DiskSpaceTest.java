package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 10, unit = TimeUnit.SECONDS)
class DiskSpaceTest {
    private final AtomicLong usable = new AtomicLong();
    private final AtomicInteger reads = new AtomicInteger();
    private final DiskSpace disk = new DiskSpace(() -> {
        reads.incrementAndGet();
        return usable.get();
    }, 1_000);

    @Test
    void theFirstAskReadsTheSpaceAndAnAppendBelowTheFloorIsRefused() {
        usable.set(1_500);
        long now = 1_700_000_000_000L;
        assertThat(disk.hasRoom(400, now)).isTrue();
        assertThat(reads).hasValue(1);
        disk.wrote(400);
        // 1,100 left by its own count: 200 more would go below the floor, so it reads again (still 1,500 outside).
        assertThat(disk.hasRoom(200, now)).isTrue();
        assertThat(reads).hasValue(2);
        disk.wrote(300);
        usable.set(1_100);
        // 1,200 by its own count: 300 more would go below the floor; read again, 1,100: refused.
        assertThat(disk.hasRoom(300, now)).isFalse();
        assertThat(reads).hasValue(3);
        assertThat(disk.hasRoom(100, now)).isTrue();
    }

    @Test
    void theSpaceIsReadAgainOnceTheReadingIsOlderThanTheRefreshInterval() {
        usable.set(1_000_000);
        long now = 5_000;
        assertThat(disk.hasRoom(10, now)).isTrue();
        assertThat(disk.hasRoom(10, now + DiskSpace.REFRESH_MILLIS - 1)).isTrue();
        assertThat(reads).hasValue(1);
        usable.set(500); // another process filled the disk
        assertThat(disk.hasRoom(10, now + DiskSpace.REFRESH_MILLIS)).isFalse();
        assertThat(reads).hasValue(2);
        // A clock that went back reads again too.
        usable.set(1_000_000);
        assertThat(disk.hasRoom(10, now)).isTrue();
        assertThat(reads).hasValue(3);
    }

    @Test
    void aFileSystemThatCannotTellItsSpaceCountsAsHavingRoom() {
        DiskSpace unknown = new DiskSpace(() -> {
            throw new java.io.UncheckedIOException(new java.io.IOException("statfs failed"));
        }, 1_000);
        assertThat(unknown.hasRoom(1 << 20, 0)).isTrue();
    }
}
