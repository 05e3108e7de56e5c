// A disk spool of encoded export requests (private to the library): the OTLP exporter's queue
// when spool_dir is set, so that batches a collector outage holds back survive a crash or a
// kill and are sent when the process starts again.
//
// Layout: in `dir`, segment files seg-<16 hex digits>.tcs, each a sequence of records
//   "TCS1" | u32 payload length | u32 span count (low 24 bits) and kind (high 8 bits, the
//   caller's: the OTLP exporter keeps the body's encoding there) | u32 CRC-32 of the payload |
//   payload
// (little-endian), and beside each segment a 16-byte .ack file: the offset of its first record
// not yet delivered, then the same offset's bitwise complement (a torn ack write is detected and
// read as 0: the records are sent again — at least once, never lost). A record whose header or
// checksum is wrong, or that was cut short by a crash, is skipped and counted; the scan goes on
// at the next record whose header and checksum are sound.
//
// Appends go to the newest segment, which rotates at segment_bytes; a process that finds a
// spool on start replays it first and appends to new segments. When the spool would exceed
// max_bytes, its oldest records are dropped, counted. The calls are plain blocking file I/O,
// meant for the pipeline strand; each touches at most one record.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace tracecraft::detail {

struct spool_options {
    std::string dir;
    std::uint64_t max_bytes = 256ull << 20;
    std::uint64_t segment_bytes = 4ull << 20;
    bool fsync = false;   ///< fsync each record and ack (else the page cache decides; a killed process loses nothing, a power cut may)
};

struct spool_record {
    std::uint32_t spans = 0;
    std::uint8_t kind = 0;
    std::string payload;
};

class spool {
public:
    /// Creates `dir` if needed, takes an exclusive lock on it (one process per spool) and
    /// scans what a previous process left. Throws std::runtime_error naming the path.
    explicit spool(spool_options options);
    ~spool();
    spool(const spool&) = delete;
    spool& operator=(const spool&) = delete;

    /// Appends a record; returns the spans dropped (oldest first) to stay within max_bytes.
    /// Throws std::runtime_error on I/O errors (the record is not in the spool then).
    /// `spans` < 2^24.
    std::uint64_t append(std::uint32_t spans, std::uint8_t kind, std::string_view payload);
    /// The oldest record not yet delivered (read from disk; corrupt ones are skipped and
    /// counted), or nullopt when the spool is empty.
    std::optional<spool_record> front();
    /// Marks the front record delivered (or given up).
    void pop_front();

    /// Removes the files of fully delivered segments (the one taking appends too).
    void trim();

    [[nodiscard]] bool empty() const noexcept { return records_ == 0; }
    [[nodiscard]] std::uint64_t records() const noexcept { return records_; }
    [[nodiscard]] std::uint64_t spans() const noexcept { return spans_; }
    /// On disk, delivered records of a segment not yet removed included.
    [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }
    /// Found on start: records and spans a previous process left undelivered.
    [[nodiscard]] std::uint64_t recovered_records() const noexcept { return recovered_records_; }
    [[nodiscard]] std::uint64_t recovered_spans() const noexcept { return recovered_spans_; }
    /// Records skipped as corrupt or cut short, and their spans when the header was readable.
    [[nodiscard]] std::uint64_t corrupt_records() const noexcept { return corrupt_records_; }
    [[nodiscard]] std::uint64_t corrupt_spans() const noexcept { return corrupt_spans_; }
    [[nodiscard]] std::uint64_t dropped_spans() const noexcept { return dropped_spans_; }

private:
    struct entry {
        std::uint64_t offset;
        std::uint32_t length;   ///< payload length
        std::uint32_t spans;    ///< with the kind in the high 8 bits
    };
    struct segment {
        std::uint64_t seq = 0;
        int fd = -1;            ///< read (and, for the newest, write) descriptor
        int ack_fd = -1;
        std::uint64_t size = 0;
        std::deque<entry> entries;   ///< not yet delivered, oldest first
    };

    void scan(segment& s);
    void open_new_segment();
    void write_ack(segment& s, std::uint64_t offset);
    void drop_front_segment();   ///< removes the oldest segment with its undelivered records
    void remove_files(segment& s);
    [[nodiscard]] std::string path_of(std::uint64_t seq, const char* ext) const;

    spool_options opt_;
    int lock_fd_ = -1;
    std::deque<segment> segments_;   ///< oldest first; the last one takes appends
    bool writable_last_ = false;     ///< segments_.back() was created by this process
    std::uint64_t next_seq_ = 1;
    std::uint64_t records_ = 0, spans_ = 0, bytes_ = 0;
    std::uint64_t recovered_records_ = 0, recovered_spans_ = 0;
    std::uint64_t corrupt_records_ = 0, corrupt_spans_ = 0, dropped_spans_ = 0;
};

} // namespace tracecraft::detail
