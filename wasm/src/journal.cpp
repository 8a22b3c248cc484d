#include "syncore/journal.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "syncore/error.hpp"

namespace syncore {

namespace {
[[noreturn]] void ioFail(const std::string &what, const std::string &path) {
    fail(ErrorCode::Storage, what + " '" + path + "': " + std::strerror(errno));
}
} // namespace

void appendRecord(Bytes &out, RecordType type, const uint8_t *payload, size_t size) {
    if (size > kMaxRecordBytes)
        fail(ErrorCode::LimitExceeded, "record larger than 1 GiB");
    uint8_t t = static_cast<uint8_t>(type);
    uint32_t crc = crc32(&t, 1);
    crc = crc32(payload, size, crc);
    Writer w;
    w.u32le(static_cast<uint32_t>(size));
    w.u32le(crc);
    w.u8(t);
    out.insert(out.end(), w.bytes().begin(), w.bytes().end());
    out.insert(out.end(), payload, payload + size);
}

ScanResult scanRecords(const uint8_t *data, size_t size, uint64_t baseOffset) {
    ScanResult res;
    size_t at = 0;
    while (at < size) {
        if (size - at < kRecordHeaderBytes) {
            res.damaged = true;
            res.problem = "torn record header";
            break;
        }
        Reader r(data + at, size - at);
        uint32_t len = r.u32le("record length");
        uint32_t crc = r.u32le("record checksum");
        uint8_t type = r.u8("record type");
        if (len > kMaxRecordBytes || len > size - at - kRecordHeaderBytes) {
            res.damaged = true;
            res.problem = len > kMaxRecordBytes ? "impossible record length" : "torn record (file ends inside it)";
            break;
        }
        const uint8_t *payload = data + at + kRecordHeaderBytes;
        uint32_t actual = crc32(payload, len, crc32(&type, 1));
        if (actual != crc) {
            res.damaged = true;
            res.problem = "checksum mismatch";
            break;
        }
        if (type < 1 || type > 6) {
            res.damaged = true;
            res.problem = "unknown record type " + std::to_string(type);
            break;
        }
        res.records.push_back({static_cast<RecordType>(type), Bytes(payload, payload + len), baseOffset + at});
        at += kRecordHeaderBytes + len;
    }
    res.goodBytes = at;
    return res;
}

bool fileExists(const std::string &path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

Bytes readFile(const std::string &path) {
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f)
        ioFail("cannot open", path);
    Bytes out;
    uint8_t buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
        out.insert(out.end(), buf, buf + n);
    bool err = std::ferror(f);
    std::fclose(f);
    if (err)
        ioFail("cannot read", path);
    return out;
}

void writeFileAtomic(const std::string &path, const Bytes &data, bool sync) {
    std::string tmp = path + ".tmp";
    FILE *f = std::fopen(tmp.c_str(), "wb");
    if (!f)
        ioFail("cannot create", tmp);
    bool ok = data.empty() || std::fwrite(data.data(), 1, data.size(), f) == data.size();
    ok = ok && std::fflush(f) == 0;
    if (ok && sync)
        ok = ::fsync(::fileno(f)) == 0;
    int saved = errno;
    std::fclose(f);
    if (!ok) {
        errno = saved;
        std::remove(tmp.c_str());
        ioFail("cannot write", tmp);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
        ioFail("cannot rename onto", path);
}

void truncateFile(const std::string &path, uint64_t size) {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0)
        ioFail("cannot truncate", path);
}

void removeFile(const std::string &path) {
    if (std::remove(path.c_str()) != 0 && errno != ENOENT)
        ioFail("cannot remove", path);
}

void makeDirectories(const std::string &path) {
    std::string cur;
    for (size_t i = 0; i <= path.size(); ++i) {
        if (i == path.size() || path[i] == '/') {
            if (!cur.empty() && !fileExists(cur) && ::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
                ioFail("cannot create directory", cur);
        }
        if (i < path.size())
            cur += path[i];
    }
}

std::vector<std::string> listDirectory(const std::string &path) {
    std::vector<std::string> out;
    DIR *d = ::opendir(path.c_str());
    if (!d)
        ioFail("cannot list", path);
    while (dirent *e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..")
            out.push_back(n);
    }
    ::closedir(d);
    return out;
}

Journal::~Journal() { close(); }

std::string Journal::segmentName(uint32_t n) {
    // "journal-%08u.log", without printf (docs/ARCHITECTURE.md, "Module size")
    std::string digits = std::to_string(n);
    return "journal-" + std::string(digits.size() < 8 ? 8 - digits.size() : 0, '0') + digits + ".log";
}

uint32_t Journal::parseSegmentName(const std::string &name) {
    if (name.size() != 20 || name.compare(0, 8, "journal-") != 0 || name.compare(16, 4, ".log") != 0)
        return 0;
    uint32_t n = 0;
    for (size_t i = 8; i < 16; ++i) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        n = n * 10 + static_cast<uint32_t>(name[i] - '0');
    }
    return n;
}

void Journal::open(const std::string &directory, uint32_t segment, size_t segmentBytes, bool sync) {
    close();
    m_dir = directory;
    m_segment = segment;
    m_segmentBytes = segmentBytes;
    m_sync = sync;
    openSegment();
}

void Journal::openSegment() {
    std::string path = m_dir + "/" + segmentName(m_segment);
    FILE *f = std::fopen(path.c_str(), "ab");
    if (!f)
        ioFail("cannot open journal segment", path);
    std::fseek(f, 0, SEEK_END);
    long pos = std::ftell(f);
    m_fileSize = pos > 0 ? static_cast<uint64_t>(pos) : 0;
    m_file = f;
}

void Journal::append(RecordType type, const Bytes &payload) {
    if (!m_file)
        fail(ErrorCode::Storage, "journal is not open");
    if (m_fileSize > 0 && m_fileSize + payload.size() + kRecordHeaderBytes > m_segmentBytes)
        rotate();
    Bytes rec;
    rec.reserve(payload.size() + kRecordHeaderBytes);
    appendRecord(rec, type, payload.data(), payload.size());
    FILE *f = static_cast<FILE *>(m_file);
    std::string path = m_dir + "/" + segmentName(m_segment);
    if (std::fwrite(rec.data(), 1, rec.size(), f) != rec.size() || std::fflush(f) != 0) {
        // Cut whatever part of the record reached the file, so the journal stays a sequence of whole records.
        int saved = errno;
        std::fclose(f);
        m_file = nullptr;
        ::truncate(path.c_str(), static_cast<off_t>(m_fileSize));
        openSegment();
        errno = saved;
        ioFail("cannot append to journal", path);
    }
    if (m_sync && ::fsync(::fileno(f)) != 0)
        ioFail("cannot fsync journal", path);
    m_fileSize += rec.size();
    m_bytes += rec.size();
}

uint32_t Journal::rotate() {
    if (m_file)
        std::fclose(static_cast<FILE *>(m_file));
    m_file = nullptr;
    ++m_segment;
    openSegment();
    return m_segment;
}

void Journal::close() {
    if (m_file)
        std::fclose(static_cast<FILE *>(m_file));
    m_file = nullptr;
}

} // namespace syncore
