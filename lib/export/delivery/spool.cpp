// The disk spool: segment files of checksummed records, ack files, recovery scan, byte limit.
#include "export/delivery/spool.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace tracecraft::detail {

namespace {

constexpr char magic[4] = {'T', 'C', 'S', '1'};
constexpr std::size_t header_size = 16;
constexpr std::uint32_t max_record = 1u << 30;

void put_u32(char* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}
std::uint32_t get_u32(const char* p) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    return v;
}
void put_u64(char* p, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}
std::uint64_t get_u64(const char* p) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    return v;
}
std::uint32_t checksum(std::string_view payload) {
    uLong c = crc32(0L, Z_NULL, 0);
    std::size_t done = 0;
    while (done < payload.size()) {   // zlib takes uInt lengths
        const auto n = static_cast<uInt>(std::min<std::size_t>(payload.size() - done, 1u << 30));
        c = crc32(c, reinterpret_cast<const Bytef*>(payload.data() + done), n);
        done += n;
    }
    return static_cast<std::uint32_t>(c);
}

[[noreturn]] void fail(const std::string& what, const std::string& path) {
    throw std::runtime_error("spool: " + what + " '" + path + "': " + std::strerror(errno));
}

/// All of `n` bytes at `offset` read (`write` false) or written; false on an error or end of file.
bool transfer_exact(int fd, char* buf, std::size_t n, std::uint64_t offset, bool write) {
    while (n > 0) {
        const ssize_t r = write ? ::pwrite(fd, buf, n, static_cast<off_t>(offset)) : ::pread(fd, buf, n, static_cast<off_t>(offset));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        buf += r;
        n -= static_cast<std::size_t>(r);
        offset += static_cast<std::uint64_t>(r);
    }
    return true;
}
bool read_exact(int fd, char* buf, std::size_t n, std::uint64_t offset) { return transfer_exact(fd, buf, n, offset, false); }
bool write_exact(int fd, const char* buf, std::size_t n, std::uint64_t offset) {
    return transfer_exact(fd, const_cast<char*>(buf), n, offset, true);   // only read by pwrite
}

/// A record header at `p` (with `avail` bytes from it) whose payload is also present and sound.
bool sound_record(const char* p, std::size_t avail) {
    if (avail < header_size || std::memcmp(p, magic, 4) != 0) return false;
    const std::uint32_t len = get_u32(p + 4);
    if (len > max_record || len > avail - header_size) return false;
    return checksum(std::string_view(p + header_size, len)) == get_u32(p + 12);
}

} // namespace

std::string spool::path_of(std::uint64_t seq, const char* ext) const {
    char name[40];
    std::snprintf(name, sizeof name, "seg-%016llx.%s", static_cast<unsigned long long>(seq), ext);
    return opt_.dir + "/" + name;
}

spool::spool(spool_options options) : opt_(std::move(options)) {
    if (opt_.dir.empty()) throw std::runtime_error("spool: no directory given");
    if (opt_.segment_bytes == 0 || opt_.max_bytes == 0) throw std::runtime_error("spool: max_bytes and segment_bytes must be > 0");
    std::error_code ec;
    std::filesystem::create_directories(opt_.dir, ec);
    if (ec || !std::filesystem::is_directory(opt_.dir))
        throw std::runtime_error("spool: cannot create directory '" + opt_.dir + "': " + (ec ? ec.message() : "not a directory"));
    const std::string lock = opt_.dir + "/LOCK";
    lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd_ < 0) fail("cannot open", lock);
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        ::close(lock_fd_);
        lock_fd_ = -1;
        throw std::runtime_error("spool: directory '" + opt_.dir + "' is in use by another process");
    }
    std::vector<std::uint64_t> seqs;
    for (const auto& de : std::filesystem::directory_iterator(opt_.dir, ec)) {
        const std::string name = de.path().filename().string();
        unsigned long long seq = 0;
        char tail[8] = {};
        if (name.size() == 24 && std::sscanf(name.c_str(), "seg-%16llx.%3s", &seq, tail) == 2 && std::strcmp(tail, "tcs") == 0)
            seqs.push_back(seq);
    }
    std::sort(seqs.begin(), seqs.end());
    for (const std::uint64_t seq : seqs) {
        segment s;
        s.seq = seq;
        next_seq_ = std::max(next_seq_, seq + 1);
        scan(s);
        if (s.entries.empty()) {
            remove_files(s);
            continue;
        }
        bytes_ += s.size;
        segments_.push_back(std::move(s));
    }
    recovered_records_ = records_;
    recovered_spans_ = spans_;
}

spool::~spool() {
    for (segment& s : segments_) {
        if (s.fd >= 0) ::close(s.fd);
        if (s.ack_fd >= 0) ::close(s.ack_fd);
    }
    if (lock_fd_ >= 0) ::close(lock_fd_);
}

void spool::scan(segment& s) {
    const std::string path = path_of(s.seq, "tcs");
    s.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (s.fd < 0) fail("cannot open", path);
    struct stat st{};
    if (::fstat(s.fd, &st) != 0) fail("cannot stat", path);
    s.size = static_cast<std::uint64_t>(st.st_size);
    std::string data(s.size, '\0');
    if (!read_exact(s.fd, data.data(), data.size(), 0)) fail("cannot read", path);
    // the first undelivered offset: value and complement must agree (else 0: send all again)
    std::uint64_t acked = 0;
    const std::string ack_path = path_of(s.seq, "ack");
    s.ack_fd = ::open(ack_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s.ack_fd < 0) fail("cannot open", ack_path);
    char ack[16];
    if (read_exact(s.ack_fd, ack, 16, 0) && get_u64(ack) == ~get_u64(ack + 8) && get_u64(ack) <= s.size) acked = get_u64(ack);
    std::size_t off = 0;
    bool in_damage = false;
    while (off < data.size()) {
        const char* p = data.data() + off;
        const std::size_t avail = data.size() - off;
        if (sound_record(p, avail)) {
            in_damage = false;
            const std::uint32_t len = get_u32(p + 4), spans = get_u32(p + 8);
            if (off >= acked) {
                s.entries.push_back(entry{off, len, spans});
                ++records_;
                spans_ += spans & 0xFFFFFF;
            }
            off += header_size + len;
            continue;
        }
        // damaged or cut short: count it once, then look for the next sound record
        if (!in_damage && off >= acked) {
            ++corrupt_records_;
            if (avail >= header_size && std::memcmp(p, magic, 4) == 0) corrupt_spans_ += get_u32(p + 8) & 0xFFFFFF;
        }
        in_damage = true;
        const void* next = avail > 1 ? std::memchr(p + 1, magic[0], avail - 1) : nullptr;
        if (!next) break;
        off = static_cast<std::size_t>(static_cast<const char*>(next) - data.data());
    }
}

void spool::remove_files(segment& s) {
    if (s.fd >= 0) ::close(s.fd);
    if (s.ack_fd >= 0) ::close(s.ack_fd);
    s.fd = s.ack_fd = -1;
    ::unlink(path_of(s.seq, "tcs").c_str());
    ::unlink(path_of(s.seq, "ack").c_str());
}

void spool::open_new_segment() {
    segment s;
    s.seq = next_seq_++;
    const std::string path = path_of(s.seq, "tcs");
    s.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s.fd < 0) fail("cannot create", path);
    const std::string ack_path = path_of(s.seq, "ack");
    s.ack_fd = ::open(ack_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s.ack_fd < 0) {
        ::close(s.fd);
        fail("cannot create", ack_path);
    }
    segments_.push_back(std::move(s));
    writable_last_ = true;
}

void spool::write_ack(segment& s, std::uint64_t offset) {
    char ack[16];
    put_u64(ack, offset);
    put_u64(ack + 8, ~offset);
    if (write_exact(s.ack_fd, ack, 16, 0) && opt_.fsync) ::fdatasync(s.ack_fd);
    // a failed ack write only means the records are sent again after a restart
}

void spool::drop_front_segment() {
    segment& s = segments_.front();
    for (const entry& e : s.entries) {
        dropped_spans_ += e.spans & 0xFFFFFF;
        spans_ -= e.spans & 0xFFFFFF;
        --records_;
    }
    bytes_ -= s.size;
    remove_files(s);
    if (segments_.size() == 1) writable_last_ = false;
    segments_.pop_front();
}

std::uint64_t spool::append(std::uint32_t spans, std::uint8_t kind, std::string_view payload) {
    if (spans > 0xFFFFFF) throw std::runtime_error("spool: a record of more than 2^24 spans");
    if (payload.size() > max_record || header_size + payload.size() > opt_.max_bytes)
        throw std::runtime_error("spool: a record of " + std::to_string(payload.size()) + " bytes exceeds the spool's limits");
    const std::uint64_t need = header_size + payload.size();
    const std::uint64_t dropped_before = dropped_spans_;
    while (!segments_.empty() && bytes_ + need > opt_.max_bytes) drop_front_segment();
    if (!writable_last_ || segments_.back().size >= opt_.segment_bytes) open_new_segment();
    segment& s = segments_.back();
    char header[header_size];
    std::memcpy(header, magic, 4);
    put_u32(header + 4, static_cast<std::uint32_t>(payload.size()));
    put_u32(header + 8, spans | static_cast<std::uint32_t>(kind) << 24);
    put_u32(header + 12, checksum(payload));
    iovec iov[2] = {{header, header_size}, {const_cast<char*>(payload.data()), payload.size()}};
    std::uint64_t written = 0;
    while (written < need) {
        ssize_t r;
        if (written < header_size) {
            iovec part[2] = {{header + written, header_size - written}, iov[1]};
            r = ::pwritev(s.fd, part, 2, static_cast<off_t>(s.size + written));
        } else {
            r = ::pwrite(s.fd, payload.data() + (written - header_size), need - written, static_cast<off_t>(s.size + written));
        }
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            const int err = errno;
            (void)!::ftruncate(s.fd, static_cast<off_t>(s.size));   // no half record stays behind
            errno = err;
            fail("cannot write", path_of(s.seq, "tcs"));
        }
        written += static_cast<std::uint64_t>(r);
    }
    if (opt_.fsync) ::fdatasync(s.fd);
    s.entries.push_back(entry{s.size, static_cast<std::uint32_t>(payload.size()), spans | static_cast<std::uint32_t>(kind) << 24});
    s.size += need;
    bytes_ += need;
    ++records_;
    spans_ += spans;
    return dropped_spans_ - dropped_before;
}

std::optional<spool_record> spool::front() {
    while (!segments_.empty()) {
        segment& s = segments_.front();
        if (s.entries.empty()) {
            if (segments_.size() == 1 && writable_last_) return std::nullopt;
            bytes_ -= s.size;
            remove_files(s);
            segments_.pop_front();
            continue;
        }
        const entry e = s.entries.front();
        spool_record r;
        std::string buf(header_size + e.length, '\0');
        if (read_exact(s.fd, buf.data(), buf.size(), e.offset) && sound_record(buf.data(), buf.size())) {
            r.spans = e.spans & 0xFFFFFF;
            r.kind = static_cast<std::uint8_t>(e.spans >> 24);
            r.payload = buf.substr(header_size);
            return r;
        }
        ++corrupt_records_;   // changed on disk since it was written or scanned
        corrupt_spans_ += e.spans & 0xFFFFFF;
        pop_front();
    }
    return std::nullopt;
}

void spool::pop_front() {
    if (segments_.empty() || segments_.front().entries.empty()) return;
    segment& s = segments_.front();
    const entry e = s.entries.front();
    s.entries.pop_front();
    --records_;
    spans_ -= e.spans & 0xFFFFFF;
    write_ack(s, s.entries.empty() ? s.size : s.entries.front().offset);
    const bool last = segments_.size() == 1 && writable_last_;
    if (s.entries.empty() && (!last || s.size >= opt_.segment_bytes)) {
        bytes_ -= s.size;
        remove_files(s);
        if (last) writable_last_ = false;
        segments_.pop_front();
    }
}

} // namespace tracecraft::detail

namespace tracecraft::detail {

void spool::trim() {
    while (!segments_.empty() && segments_.front().entries.empty()) {
        bytes_ -= segments_.front().size;
        remove_files(segments_.front());
        if (segments_.size() == 1) writable_last_ = false;
        segments_.pop_front();
    }
}

} // namespace tracecraft::detail
