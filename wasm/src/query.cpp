#include "syncore/query.hpp"

#include <algorithm>

#include "syncore/error.hpp"

namespace syncore {

namespace {
CompareOp parseOp(const std::string &op) {
    if (op == "$eq")
        return CompareOp::Eq;
    if (op == "$ne")
        return CompareOp::Ne;
    if (op == "$gt")
        return CompareOp::Gt;
    if (op == "$gte")
        return CompareOp::Gte;
    if (op == "$lt")
        return CompareOp::Lt;
    if (op == "$lte")
        return CompareOp::Lte;
    if (op == "$in")
        return CompareOp::In;
    fail(ErrorCode::InvalidArgument,
         "unknown query operator '" + op + "' (expected $eq, $ne, $gt, $gte, $lt, $lte or $in)");
}

bool isOperatorObject(const Value &v) {
    if (!v.is_object() || v.empty())
        return false;
    for (auto it = v.begin(); it != v.end(); ++it)
        if (it.key().empty() || it.key()[0] != '$')
            return false;
    return true;
}

void addOrder(Query &q, const Value &o) {
    if (o.is_string()) {
        if (o.get_ref<const std::string &>().empty())
            fail(ErrorCode::InvalidArgument, "orderBy field is empty");
        q.orderBy.push_back({o.get<std::string>(), false});
    } else if (o.is_object()) {
        for (auto it = o.begin(); it != o.end(); ++it) {
            if (!it.value().is_string() || (it.value() != "asc" && it.value() != "desc"))
                fail(ErrorCode::InvalidArgument, "orderBy direction of '" + it.key() + "' must be 'asc' or 'desc'");
            q.orderBy.push_back({it.key(), it.value() == "desc"});
        }
    } else {
        fail(ErrorCode::InvalidArgument, "orderBy must be a field name, {field: 'asc'|'desc'} or an array of those");
    }
}
} // namespace

Query Query::fromJson(const Value &q) {
    Query out;
    if (q.is_null())
        return out;
    if (!q.is_object())
        fail(ErrorCode::InvalidArgument, "query must be an object {where, orderBy, limit}");
    for (auto it = q.begin(); it != q.end(); ++it) {
        const std::string &key = it.key();
        const Value &v = it.value();
        if (key == "where") {
            if (v.is_null())
                continue;
            if (!v.is_object())
                fail(ErrorCode::InvalidArgument, "query 'where' must be an object");
            for (auto w = v.begin(); w != v.end(); ++w) {
                validateValue(w.value(), "where." + w.key());
                if (isOperatorObject(w.value())) {
                    for (auto o = w.value().begin(); o != w.value().end(); ++o) {
                        Condition c{w.key(), parseOp(o.key()), o.value()};
                        if (c.op == CompareOp::In && !c.operand.is_array())
                            fail(ErrorCode::InvalidArgument, "$in on '" + w.key() + "' needs an array");
                        out.where.push_back(std::move(c));
                    }
                } else if (w.value().is_object() && !w.value().empty() && w.value().begin().key()[0] == '$') {
                    fail(ErrorCode::InvalidArgument, "'where." + w.key() + "' mixes operators and plain keys");
                } else {
                    out.where.push_back(Condition{w.key(), CompareOp::Eq, w.value()});
                }
            }
        } else if (key == "orderBy") {
            if (v.is_null())
                continue;
            if (v.is_array()) {
                for (const auto &o : v)
                    addOrder(out, o);
            } else {
                addOrder(out, v);
            }
        } else if (key == "limit") {
            if (v.is_null())
                continue;
            if (!v.is_number_integer() || v.get<int64_t>() < 0)
                fail(ErrorCode::InvalidArgument, "query 'limit' must be a non-negative integer");
            out.limit = static_cast<size_t>(v.get<int64_t>());
        } else {
            fail(ErrorCode::InvalidArgument, "unknown query key '" + key + "' (expected where, orderBy, limit)");
        }
    }
    return out;
}

namespace {

int rankOf(const Value &v) { return typeRank(v); }
int rankOf(const Cell &v) { return v.typeRank(); }
int compareTo(const Value &v, const Value &operand) { return compareValues(v, operand); }
int compareTo(const Cell &v, const Value &operand) { return v.compare(operand); }

// One test for JSON values (Query::matches) and stored cells (Store::find). Null pointer: field absent.
template <typename V> bool evalOn(const Condition &c, const V *v) {
    switch (c.op) {
    case CompareOp::Eq:
        return v ? compareTo(*v, c.operand) == 0 : c.operand.is_null();
    case CompareOp::Ne:
        return v ? compareTo(*v, c.operand) != 0 : !c.operand.is_null();
    case CompareOp::In:
        for (const auto &x : c.operand)
            if (v ? compareTo(*v, x) == 0 : x.is_null())
                return true;
        return false;
    default:
        break;
    }
    if (!v || rankOf(*v) != typeRank(c.operand))
        return false;
    int r = compareTo(*v, c.operand);
    switch (c.op) {
    case CompareOp::Gt:
        return r > 0;
    case CompareOp::Gte:
        return r >= 0;
    case CompareOp::Lt:
        return r < 0;
    case CompareOp::Lte:
        return r <= 0;
    default:
        return false;
    }
}

} // namespace

bool evalCondition(const Condition &c, const Value *v) { return evalOn(c, v); }
bool evalCondition(const Condition &c, const Cell *v) { return evalOn(c, v); }

bool Query::matches(const Value &doc) const {
    for (const auto &c : where) {
        auto it = doc.find(c.field);
        if (!evalCondition(c, it == doc.end() ? nullptr : &*it))
            return false;
    }
    return true;
}

} // namespace syncore
