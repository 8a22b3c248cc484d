#pragma once
// Record framing and the journal directory (docs/FORMAT.md, "Storage"). Plain stdio file I/O only, so
// the same code runs natively, on Emscripten's IDBFS (browser) and on NODEFS (relay).
#include <cstdint>
#include <string>
#include <vector>

#include "syncore/bytes.hpp"

namespace syncore {

/** Record header: u32 payload length, u32 CRC-32 of type + payload, u8 type; then the payload. */
constexpr size_t kRecordHeaderBytes = 9;
constexpr uint32_t kMaxRecordBytes = 1u << 30;

enum class RecordType : uint8_t {
    Meta = 1,     // state file: store metadata (MessagePack map)
    State = 2,    // state file: the full state as a change set
    Changes = 3,  // journal: a change set applied (local transaction or remote batch)
    Config = 4,   // journal: collection policy or schema version (MessagePack map)
    Dismiss = 5,  // journal: a conflict record dropped locally (its id)
    Snapshot = 6, // journal: a named snapshot created (MessagePack map with the state blob)
};

void appendRecord(Bytes &out, RecordType type, const uint8_t *payload, size_t size);

struct Record {
    RecordType type;
    Bytes payload;
    uint64_t offset; // where the record starts in its file
};

/** Reads framed records until the end or the first damaged one; `goodBytes` is where damage starts. */
struct ScanResult {
    std::vector<Record> records;
    uint64_t goodBytes = 0;
    bool damaged = false;
    std::string problem;
};
ScanResult scanRecords(const uint8_t *data, size_t size, uint64_t baseOffset = 0);

// File helpers (throw Error(Storage) naming the path and errno text).
bool fileExists(const std::string &path);
Bytes readFile(const std::string &path);
void writeFileAtomic(const std::string &path, const Bytes &data, bool sync);
void truncateFile(const std::string &path, uint64_t size);
void removeFile(const std::string &path);
void makeDirectories(const std::string &path);
std::vector<std::string> listDirectory(const std::string &path);

/** Appends records to numbered segment files journal-00000001.log, ... in a directory. */
class Journal {
  public:
    Journal() = default;
    ~Journal();
    Journal(const Journal &) = delete;
    Journal &operator=(const Journal &) = delete;

    void open(const std::string &directory, uint32_t segment, size_t segmentBytes, bool sync);
    void append(RecordType type, const Bytes &payload);
    /** Starts a new segment; returns its number. */
    uint32_t rotate();
    void close();
    uint32_t segment() const { return m_segment; }
    uint64_t bytesSinceCompaction() const { return m_bytes; }
    void resetBytes() { m_bytes = 0; }

    static std::string segmentName(uint32_t n);
    /** Segment number of a file name, or 0 if it is not a segment. */
    static uint32_t parseSegmentName(const std::string &name);

  private:
    void openSegment();
    std::string m_dir;
    uint32_t m_segment = 0;
    size_t m_segmentBytes = 0;
    bool m_sync = false;
    void *m_file = nullptr; // FILE*
    uint64_t m_fileSize = 0;
    uint64_t m_bytes = 0;
};

} // namespace syncore
