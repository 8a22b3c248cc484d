#pragma once
// Sync protocol frames (docs/PROTOCOL.md): MessagePack maps through nlohmann/json, each with a type tag
// `t`; the hello carries the protocol version. Change data rides inside as a binary change set.
// Keep MessageType names in step with js/protocol.mjs.
#include <cstdint>
#include <string>
#include <vector>

#include "syncore/bytes.hpp"
#include "syncore/site_id.hpp"
#include "syncore/store.hpp"
#include "syncore/value.hpp"

namespace syncore {

constexpr uint32_t kProtocolVersion = 1;
/** Nesting allowed in a frame (the whole MessagePack tree, presence payloads included). */
constexpr int kMaxFrameDepth = 32;

enum class MessageType : uint8_t { Hello, Changes, Ack, End, Presence, Error };
const char *messageTypeName(MessageType t);

struct Message {
    MessageType type = MessageType::Hello;
    // hello
    uint32_t protocolVersion = kProtocolVersion;
    SiteId site;
    uint32_t schemaVersion = 0;
    SyncVector have;                      // what the sender holds, per collection
    std::vector<std::string> collections; // collections the sender syncs (empty = all)
    std::string token;
    // changes / ack
    uint64_t batch = 0; // sender-chosen batch number; the ack names it
    Bytes changes;      // an encoded change set
    // presence
    Value presence;
    // error
    std::string code;
    std::string message;
    bool fatal = false;

    static Message hello(const SiteId &site, uint32_t schemaVersion, SyncVector have,
                         std::vector<std::string> collections, std::string token);
    static Message changeBatch(uint64_t batch, Bytes changes);
    static Message ack(uint64_t batch);
    static Message end(SyncVector have);
    static Message presenceUpdate(const SiteId &site, Value state);
    static Message error(std::string code, std::string message, bool fatal, uint64_t batch = 0);
};

Bytes encodeMessage(const Message &m);
/**
 * Decodes one frame. Throws Error(Decode) naming the problem for anything that is not a well-formed
 * frame of a known type: bad MessagePack, too deep, wrong field types, unknown type, bad change set
 * header. Never reads past `size`; allocations are bounded by the input.
 */
Message decodeMessage(const uint8_t *data, size_t size);
inline Message decodeMessage(const Bytes &b) { return decodeMessage(b.data(), b.size()); }

/** Walks MessagePack without recursion; throws Error(Decode) if malformed or deeper than maxDepth. */
void checkMsgpack(const uint8_t *data, size_t size, int maxDepth);

} // namespace syncore
