// Store: persistence in a directory (docs/FORMAT.md, "Storage"): a state file written atomically at
// compaction, plus journal segments of CRC-framed records appended by every commit and apply.
#include <algorithm>
#include <cstring>

#include "store_impl.hpp"
#include "syncore/msgpack.hpp"

namespace syncore {

namespace {
const char kStateMagic[8] = {'S', 'Y', 'N', 'C', 'O', 'R', 'E', '1'};
const char *kStateFile = "syncore.state";
constexpr uint32_t kMaxSegment = 99999999; // segment names have 8 digits

Value stampJson(const Store::Impl &m, const Stamp &s) {
    return Value::array({s.epoch, s.hlc, s.hlc ? m.sites[s.site].hex() : std::string()});
}

const Value &need(const Value &obj, const char *key) {
    if (!obj.is_object())
        fail(ErrorCode::Decode, std::string("metadata: expected an object holding '") + key + "'");
    auto it = obj.find(key);
    if (it == obj.end())
        fail(ErrorCode::Decode, std::string("metadata: missing '") + key + "'");
    return *it;
}

template <typename T> T num(const Value &v, const char *what) {
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
        fail(ErrorCode::Decode, std::string("metadata: '") + what + "' is not a non-negative integer");
    uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<T>::max()))
        fail(ErrorCode::Decode, std::string("metadata: '") + what + "' out of range");
    return static_cast<T>(u);
}

const std::string &str(const Value &v, const char *what) {
    if (!v.is_string())
        fail(ErrorCode::Decode, std::string("metadata: '") + what + "' is not a string");
    return v.get_ref<const std::string &>();
}

// Every string of a record becomes a name or a value the store writes again (a collection name, a
// conflict's field, a snapshot's label): MessagePack does not promise UTF-8, so check it here, or a
// store would write a state file it cannot read back.
void checkStrings(const Value &v, const char *what) {
    if (v.is_string()) {
        if (!isValidUtf8(v.get_ref<const std::string &>()))
            fail(ErrorCode::Decode, std::string(what) + " holds a string that is not valid UTF-8");
    } else if (v.is_object()) {
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (!isValidUtf8(it.key()))
                fail(ErrorCode::Decode, std::string(what) + " holds a key that is not valid UTF-8");
            checkStrings(it.value(), what);
        }
    } else if (v.is_array()) {
        for (const auto &x : v)
            checkStrings(x, what);
    }
}

Value parseMsgpack(const Bytes &b, const char *what) {
    Value v = fromMsgpack(b.data(), b.size());
    if (v.is_discarded())
        fail(ErrorCode::Decode, std::string(what) + " is not valid MessagePack");
    checkStrings(v, what);
    return v;
}
} // namespace

void Store::Impl::journalRecord(RecordType type, const Bytes &payload) {
    if (!persistent || replaying)
        return;
    journal.append(type, payload);
}

void Store::Impl::maybeCompact() {
    if (!persistent || replaying)
        return;
    if (journal.bytesSinceCompaction() < std::max<uint64_t>(options.compactBytes, stateBytes))
        return;
    try {
        compactNow();
    } catch (const Error &) {
        // The journal already holds everything; compaction is retried after the next write.
    }
}

Bytes Store::Impl::encodeMeta() const {
    Value policies = Value::object();
    for (const auto &c : colls)
        if (c.policy != ConflictPolicy::Lww)
            policies[c.name] = conflictPolicyName(c.policy);
    Value cs = Value::array();
    for (const auto &[id, c] : conflicts)
        cs.push_back(Value{{"collection", c.collection},
                           {"doc", c.doc},
                           {"field", c.field},
                           {"localValue", c.localValue},
                           {"localAbsent", c.localAbsent},
                           {"localStamp", stampJson(*this, c.localStamp)},
                           {"remoteValue", c.remoteValue},
                           {"remoteAbsent", c.remoteAbsent},
                           {"remoteStamp", stampJson(*this, c.remoteStamp)},
                           {"localWins", c.localWins}});
    Value snaps = Value::array();
    for (const auto &s : snapshots)
        snaps.push_back(s.toJson());
    Value meta{{"format", 1},          {"site", sites[0].hex()}, {"schemaVersion", schemaVersion},
               {"seq", seq},           {"hlc", clock.last()},    {"journalStart", journal.segment() + 1},
               {"policies", policies}, {"conflicts", cs},        {"snapshots", snaps}};
    return toMsgpack(meta);
}

uint32_t Store::Impl::loadMeta(const Bytes &payload) {
    Value meta = parseMsgpack(payload, "state metadata");
    if (num<uint32_t>(need(meta, "format"), "format") != 1)
        fail(ErrorCode::Decode, "unsupported state format");
    SiteId site = SiteId::fromHex(str(need(meta, "site"), "site"));
    if (site.isZero())
        fail(ErrorCode::Decode, "metadata: the site id is zero");
    siteIndex.clear();
    sites.clear();
    internSite(site);
    schemaVersion = num<uint32_t>(need(meta, "schemaVersion"), "schemaVersion");
    seq = num<uint64_t>(need(meta, "seq"), "seq");
    if (seq >= kMaxSeq)
        fail(ErrorCode::Decode, "metadata: 'seq' out of range");
    uint64_t h = num<uint64_t>(need(meta, "hlc"), "hlc");
    if (h >= kMaxHlc)
        fail(ErrorCode::Decode, "metadata: 'hlc' out of range");
    clock.observe(h);
    const Value &policies = need(meta, "policies");
    if (!policies.is_object())
        fail(ErrorCode::Decode, "metadata: 'policies' is not an object");
    for (auto it = policies.begin(); it != policies.end(); ++it) {
        if (it.key().empty())
            fail(ErrorCode::Decode, "metadata: a policy for an empty collection name");
        collection(it.key()).policy = parseConflictPolicy(str(it.value(), "policy"));
    }
    auto stamp = [&](const Value &v) {
        if (!v.is_array() || v.size() != 3)
            fail(ErrorCode::Decode, "metadata: bad stamp");
        Stamp s;
        s.epoch = num<uint32_t>(v[0], "stamp epoch");
        s.hlc = num<uint64_t>(v[1], "stamp clock");
        if (s.hlc >= kMaxHlc)
            fail(ErrorCode::Decode, "metadata: stamp clock out of range");
        clock.observe(s.hlc);
        if (s.hlc)
            s.site = internSite(SiteId::fromHex(str(v[2], "stamp site")));
        return s;
    };
    const Value &cs = need(meta, "conflicts");
    if (!cs.is_array())
        fail(ErrorCode::Decode, "metadata: 'conflicts' is not an array");
    for (const auto &c : cs) {
        ConflictState rec;
        rec.collection = str(need(c, "collection"), "collection");
        rec.doc = str(need(c, "doc"), "doc");
        rec.field = str(need(c, "field"), "field");
        rec.localValue = need(c, "localValue");
        rec.localAbsent = need(c, "localAbsent").is_boolean() && need(c, "localAbsent").get<bool>();
        rec.localStamp = stamp(need(c, "localStamp"));
        rec.remoteValue = need(c, "remoteValue");
        rec.remoteAbsent = need(c, "remoteAbsent").is_boolean() && need(c, "remoteAbsent").get<bool>();
        rec.remoteStamp = stamp(need(c, "remoteStamp"));
        rec.localWins = need(c, "localWins").is_boolean() && need(c, "localWins").get<bool>();
        validateValue(rec.localValue, rec.field);
        validateValue(rec.remoteValue, rec.field);
        conflicts[conflictId(rec.collection, rec.doc, rec.field)] = std::move(rec);
    }
    const Value &snaps = need(meta, "snapshots");
    if (!snaps.is_array())
        fail(ErrorCode::Decode, "metadata: 'snapshots' is not an array");
    for (const auto &snap : snaps)
        snapshots.push_back(NamedSnapshot::fromJson(snap));
    uint32_t journalStart = num<uint32_t>(need(meta, "journalStart"), "journalStart");
    if (journalStart == 0 || journalStart > kMaxSegment)
        fail(ErrorCode::Decode, "metadata: 'journalStart' out of range"); // segments are 1..99999999
    return journalStart;
}

Value NamedSnapshot::toJson() const {
    return Value{{"id", info.id},
                 {"label", info.label},
                 {"author", info.author},
                 {"createdAt", info.createdAt},
                 {"docCount", info.docCount},
                 {"state", Value::binary(state)}};
}

NamedSnapshot NamedSnapshot::fromJson(const Value &v) {
    NamedSnapshot ns;
    ns.info.id = str(need(v, "id"), "snapshot id");
    ns.info.label = str(need(v, "label"), "snapshot label");
    ns.info.author = str(need(v, "author"), "snapshot author");
    ns.info.createdAt = num<uint64_t>(need(v, "createdAt"), "createdAt");
    ns.info.docCount = num<uint64_t>(need(v, "docCount"), "docCount");
    const Value &st = need(v, "state");
    if (!st.is_binary())
        fail(ErrorCode::Decode, "snapshot state is not binary");
    ns.state = Bytes(st.get_binary().begin(), st.get_binary().end());
    ns.info.bytes = ns.state.size();
    return ns;
}

void Store::Impl::applyConfigRecord(const Bytes &payload) {
    Value rec = parseMsgpack(payload, "configuration record");
    if (!rec.is_object())
        fail(ErrorCode::Decode, "configuration record is not an object");
    if (rec.contains("schemaVersion"))
        schemaVersion = num<uint32_t>(rec["schemaVersion"], "schemaVersion");
    if (rec.contains("collection")) {
        const std::string &name = str(rec["collection"], "collection");
        if (name.empty())
            fail(ErrorCode::Decode, "configuration record with an empty collection name");
        collection(name).policy = parseConflictPolicy(str(need(rec, "policy"), "policy"));
    }
}

void Store::Impl::replayRecord(RecordType type, const Bytes &payload) {
    switch (type) {
    case RecordType::Changes: {
        ChangeSet cs = decodeChangeSet(payload);
        applyChanges(cs, false, nullptr);
        break;
    }
    case RecordType::Config:
        applyConfigRecord(payload);
        break;
    case RecordType::Dismiss:
        conflicts.erase(std::string(payload.begin(), payload.end()));
        break;
    case RecordType::Snapshot:
        snapshots.push_back(NamedSnapshot::fromJson(parseMsgpack(payload, "snapshot record")));
        break;
    default:
        fail(ErrorCode::Decode, "unexpected record type in a journal");
    }
}

void Store::Impl::resetState() {
    SiteId site = sites[0];
    sites.clear();
    siteIndex.clear();
    internSite(site);
    colls.clear();
    collIndex.clear();
    conflicts.clear();
    snapshots.clear();
    schemaVersion = 0;
    seq = 0;
}

void Store::Impl::load(OpenReport &report) {
    const std::string &dir = options.directory;
    makeDirectories(dir);
    const std::string statePath = dir + "/" + kStateFile;
    uint32_t journalStart = 0;
    bool haveState = false;
    auto note = [&](const std::string &msg) {
        report.damaged = true;
        if (!report.message.empty())
            report.message += "; ";
        report.message += msg;
    };
    replaying = true;
    if (fileExists(statePath)) {
        Bytes file = readFile(statePath);
        try {
            if (file.size() < 8 || std::memcmp(file.data(), kStateMagic, 8) != 0)
                fail(ErrorCode::Decode, "not a syncore state file");
            ScanResult scan = scanRecords(file.data() + 8, file.size() - 8, 8);
            if (scan.damaged)
                fail(ErrorCode::Decode, scan.problem);
            if (scan.records.size() != 2 || scan.records[0].type != RecordType::Meta ||
                scan.records[1].type != RecordType::State)
                fail(ErrorCode::Decode, "unexpected records");
            journalStart = loadMeta(scan.records[0].payload);
            // Decoded straight into the store; if it fails halfway, resetState() below empties it.
            loadChanges(scan.records[1].payload.data(), scan.records[1].payload.size(), false);
            haveState = true;
            stateBytes = file.size();
        } catch (const Error &e) {
            note(std::string("state file damaged (") + e.what() + "); kept as syncore.state.damaged, journal replayed");
            report.droppedBytes += file.size();
            std::rename(statePath.c_str(), (statePath + ".damaged").c_str());
            resetState();
        }
    }
    std::vector<uint32_t> segs;
    for (const auto &name : listDirectory(dir))
        if (uint32_t n = Journal::parseSegmentName(name))
            segs.push_back(n);
    std::sort(segs.begin(), segs.end());
    if (haveState) {
        // Segments before the state's journalStart were compacted into it (a crash can leave them behind).
        for (uint32_t n : segs)
            if (n < journalStart)
                removeFile(dir + "/" + Journal::segmentName(n));
        segs.erase(std::remove_if(segs.begin(), segs.end(), [&](uint32_t n) { return n < journalStart; }), segs.end());
    }
    report.created = !haveState && segs.empty() && report.message.empty();
    uint32_t last = haveState ? journalStart : 1;
    for (size_t i = 0; i < segs.size(); ++i) {
        const std::string path = dir + "/" + Journal::segmentName(segs[i]);
        Bytes data = readFile(path);
        ScanResult scan = scanRecords(data.data(), data.size());
        uint64_t good = scan.goodBytes;
        std::string problem = scan.damaged ? scan.problem : "";
        for (const auto &rec : scan.records) {
            try {
                replayRecord(rec.type, rec.payload);
                ++report.records;
            } catch (const Error &e) {
                good = rec.offset;
                problem = std::string("unreadable record (") + e.what() + ")";
                break;
            }
        }
        last = segs[i];
        if (!problem.empty()) {
            note(Journal::segmentName(segs[i]) + ": " + problem + " at byte " + std::to_string(good) + "; cut " +
                 std::to_string(data.size() - good) + " bytes, everything before kept");
            report.droppedBytes += data.size() - good;
            truncateFile(path, good);
            for (size_t j = i + 1; j < segs.size(); ++j) {
                const std::string later = dir + "/" + Journal::segmentName(segs[j]);
                report.droppedBytes += readFile(later).size();
                std::rename(later.c_str(), (later + ".damaged").c_str());
                note(Journal::segmentName(segs[j]) + " follows the damage; kept aside as .damaged");
            }
            break;
        }
    }
    replaying = false;
    journal.open(dir, last, options.segmentBytes, options.fsync);
    journal.resetBytes();
    if (!haveState)
        compactNow(); // a new (or rescued) store writes its state file, site id included, at once
}

void Store::Impl::compactNow() {
    if (!persistent)
        return;
    const std::string dir = options.directory;
    uint32_t next = journal.segment() + 1;
    Bytes file(kStateMagic, kStateMagic + 8);
    Bytes meta = encodeMeta(); // journalStart = journal.segment() + 1
    appendRecord(file, RecordType::Meta, meta.data(), meta.size());
    Bytes state = owner->encodeState();
    appendRecord(file, RecordType::State, state.data(), state.size());
    writeFileAtomic(dir + "/" + kStateFile, file, options.fsync);
    journal.open(dir, next, options.segmentBytes, options.fsync);
    for (const auto &name : listDirectory(dir)) {
        uint32_t n = Journal::parseSegmentName(name);
        if (n && n < next)
            removeFile(dir + "/" + name);
    }
    stateBytes = file.size();
    journal.resetBytes();
}

std::unique_ptr<Store> Store::open(const StoreOptions &options, OpenReport *report) {
    if (options.segmentBytes < 4096)
        fail(ErrorCode::OutOfRange, "segmentBytes must be at least 4096");
    if (options.maxDocumentBytes == 0)
        fail(ErrorCode::OutOfRange, "maxDocumentBytes must be positive");
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    impl->clock.setSource(options.clock);
    SiteId site = options.siteId ? *options.siteId : SiteId::random();
    if (site.isZero())
        fail(ErrorCode::InvalidArgument, "site id must not be zero");
    impl->internSite(site);
    Impl *raw = impl.get();
    std::unique_ptr<Store> store(new Store(std::move(impl)));
    raw->owner = store.get();
    OpenReport local;
    if (!options.directory.empty()) {
        raw->persistent = true;
        raw->load(local);
    } else {
        local.created = true;
    }
    if (report)
        *report = local;
    return store;
}

void Store::compact() {
    if (m->txn.active)
        fail(ErrorCode::InvalidArgument, "cannot compact inside a transaction");
    m->compactNow();
}

uint64_t Store::journalBytes() const { return m->persistent ? m->journal.bytesSinceCompaction() : 0; }

} // namespace syncore
