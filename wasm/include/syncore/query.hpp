#pragma once
// Queries over one collection: where (plain equality and $eq $ne $gt $gte $lt $lte $in), orderBy, limit.
#include <cstddef>
#include <string>
#include <vector>

#include "syncore/cell.hpp"
#include "syncore/value.hpp"

namespace syncore {

enum class CompareOp : uint8_t { Eq, Ne, Gt, Gte, Lt, Lte, In };

struct Condition {
    std::string field; // "id" is the document id
    CompareOp op = CompareOp::Eq;
    Value operand;
};

struct OrderKey {
    std::string field;
    bool descending = false;
};

struct Query {
    std::vector<Condition> where; // all must hold
    std::vector<OrderKey> orderBy;
    size_t limit = 0; // 0 = no limit

    /**
     * Parses {where, orderBy, limit}. orderBy is "field", {field: "asc"|"desc"} or an array of those.
     * Throws Error(InvalidArgument) naming the bad part (unknown operator, $in without an array, ...).
     */
    static Query fromJson(const Value &q);
    /** True if the document (an object with id) satisfies every condition. */
    bool matches(const Value &doc) const;
};

/**
 * Comparison semantics: $eq/$ne use JSON equality ($ne also matches a missing field); $gt/$gte/$lt/$lte
 * match only values of the same JSON type as the operand (numbers with numbers, strings with strings),
 * like MongoDB's type bracketing; $in matches if the value equals any element. Missing fields sort as
 * null, first in ascending order.
 */
bool evalCondition(const Condition &c, const Value *fieldValue);
/** The same test against a stored cell (null pointer: the field is absent). */
bool evalCondition(const Condition &c, const Cell *fieldValue);

} // namespace syncore
