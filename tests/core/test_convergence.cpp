// Randomized convergence: a seeded TestNetwork of replicas doing random writes with random delivery
// (drop, duplicate, reorder, partition and heal, batches cut at random points), ending with equal state
// hashes on every replica. Replay a failure with --seed=N (printed); soak with --ops=N.
#include <algorithm>
#include <deque>
#include <set>
#include <sstream>

#include "support.hpp"

using namespace syncore;

namespace {

struct Node {
    test::ManualClock clock;
    std::unique_ptr<Store> store;
    std::string dir; // persisted replicas reopen from here
};

class TestNetwork {
  public:
    TestNetwork(uint64_t seed, size_t n, const std::string &persistDir) : m_rng(seed) {
        for (size_t i = 0; i < n; ++i) {
            auto node = std::make_unique<Node>();
            *node->clock.ms += m_rng() % 5000; // clocks disagree by up to 5 s
            if (i == 0)
                node->dir = persistDir;
            open(*node, static_cast<uint8_t>(i + 1));
            m_nodes.push_back(std::move(node));
        }
        m_queues.resize(n * n);
        m_down.assign(n * n, false);
    }

    void step() {
        for (auto &n : m_nodes)
            n->clock.advance(pick(3)); // time moves, unevenly
        uint64_t r = pick(100);
        if (r < 45)
            write();
        else if (r < 70)
            deliver();
        else if (r < 80)
            antiEntropy();
        else if (r < 85)
            resolve();
        else if (r < 90)
            partition();
        else if (r < 93)
            failingTransaction();
        else if (r < 95)
            restart();
        else
            deliver();
        ++m_steps;
        if (m_steps % 200 == 0)
            for (auto &n : m_nodes)
                n->store->checkInvariants();
    }

    void healAndCheck() {
        std::fill(m_down.begin(), m_down.end(), false);
        for (int round = 0; round < 20; ++round) {
            size_t sent = 0;
            for (size_t i = 0; i < m_nodes.size(); ++i)
                for (size_t j = 0; j < m_nodes.size(); ++j)
                    if (i != j)
                        sent += test::pushTo(*m_nodes[i]->store, *m_nodes[j]->store, 1 + pick(4000));
            if (sent == 0)
                break;
            REQUIRE_MESSAGE(round < 19, "replicas still exchanging changes after 20 rounds");
        }
        uint64_t h0 = m_nodes[0]->store->stateHash();
        for (size_t i = 0; i < m_nodes.size(); ++i) {
            Store &s = *m_nodes[i]->store;
            s.checkInvariants();
            if (s.stateHash() != h0) {
                std::istringstream x(m_nodes[0]->store->debugDump()), y(s.debugDump());
                std::string lx, ly;
                while (std::getline(x, lx) && std::getline(y, ly))
                    if (lx != ly) {
                        MESSAGE("replica 0: " << lx << "\nreplica " << i << ": " << ly);
                        break;
                    }
            }
            CHECK_MESSAGE(s.stateHash() == h0, "replica " << i << " diverged");
            for (const auto &c : m_nodes[0]->store->collections())
                CHECK(s.find(c, Query()) == m_nodes[0]->store->find(c, Query()));
        }
    }

    size_t steps() const { return m_steps; }

  private:
    uint64_t pick(uint64_t n) { return m_rng() % n; }
    Node &randomNode() { return *m_nodes[pick(m_nodes.size())]; }
    size_t indexOf(const Node &n) const {
        for (size_t i = 0; i < m_nodes.size(); ++i)
            if (m_nodes[i].get() == &n)
                return i;
        return 0;
    }

    void open(Node &n, uint8_t siteNo) {
        StoreOptions o;
        o.siteId = test::site(siteNo);
        o.clock = n.clock.source();
        o.directory = n.dir;
        o.segmentBytes = 4096;  // small, so segments rotate
        o.compactBytes = 16384; // and compaction runs during the test
        n.store = Store::open(o);
        n.store->configureCollection("m", ConflictPolicy::Manual);
    }

    std::string coll() { return pick(2) ? "m" : "a"; }
    std::string docId() { return "d" + std::to_string(pick(10)); }
    std::string fieldName() { return std::string(1, static_cast<char>('p' + pick(4))); }
    Value value() {
        switch (pick(6)) {
        case 0:
            return Value(static_cast<int64_t>(pick(20)));
        case 1:
            return Value("s" + std::to_string(pick(30)));
        case 2:
            return Value(pick(2) == 1);
        case 3:
            return Value::array({pick(5), "t" + std::to_string(pick(5))});
        case 4:
            return Value{{"k" + std::to_string(pick(3)), pick(9)}};
        default:
            return Value(static_cast<double>(pick(1000)) / 8.0);
        }
    }
    Value doc(const std::string &id) {
        Value d{{"id", id}};
        for (uint64_t i = 0, n = pick(4); i < n; ++i)
            d[fieldName()] = value();
        return d;
    }

    // One random operation through a transaction object, valid for the current state.
    void op(Txn &tx) {
        std::string c = coll(), id = docId();
        bool exists = tx.get(c, id).has_value();
        uint64_t r = pick(10);
        if (!exists || r < 3)
            tx.put(c, doc(id));
        else if (r < 6)
            tx.update(c, id, Value{{fieldName(), value()}});
        else if (r < 8)
            tx.increment(c, id, "n", static_cast<double>(static_cast<int64_t>(pick(7)) - 3));
        else
            tx.remove(c, id);
    }

    void broadcast(Node &from, const Bytes &changes) {
        if (changes.empty())
            return;
        size_t i = indexOf(from);
        for (size_t j = 0; j < m_nodes.size(); ++j)
            if (j != i)
                m_queues[i * m_nodes.size() + j].push_back(changes);
    }

    void write() {
        Node &n = randomNode();
        uint64_t count = pick(4) == 0 ? 2 + pick(3) : 1;
        CommitResult res = n.store->transaction([&](Txn &tx) {
            for (uint64_t i = 0; i < count; ++i) {
                try {
                    op(tx);
                } catch (const Error &e) {
                    // A counter on a non-number field is refused; the rest of the transaction goes on.
                    REQUIRE(e.code() == ErrorCode::InvalidArgument);
                }
            }
        });
        broadcast(n, res.changes);
    }

    void failingTransaction() {
        Node &n = randomNode();
        uint64_t before = n.store->stateHash();
        size_t conflicts = n.store->conflicts().size();
        CHECK_THROWS(n.store->transaction([&](Txn &tx) {
            op(tx);
            op(tx);
            throw std::runtime_error("app code failed half way");
        }));
        CHECK(n.store->stateHash() == before);
        CHECK(n.store->conflicts().size() == conflicts);
    }

    void deliver() {
        size_t n = m_nodes.size();
        size_t q = pick(n * n);
        auto &queue = m_queues[q];
        if (queue.empty())
            return;
        size_t at = pick(queue.size()); // reorder
        Bytes msg = queue[at];
        uint64_t fate = pick(10);
        if (fate == 0 || m_down[q]) { // dropped (or the link is partitioned)
            queue.erase(queue.begin() + static_cast<long>(at));
            return;
        }
        if (fate != 1)
            queue.erase(queue.begin() + static_cast<long>(at)); // fate 1: duplicate later
        m_nodes[q % n]->store->apply(msg);
    }

    void antiEntropy() {
        size_t n = m_nodes.size();
        size_t i = pick(n), j = pick(n);
        if (i == j || m_down[i * n + j])
            return;
        auto batches = m_nodes[i]->store->changesSince(m_nodes[j]->store->syncVector(), {}, 1 + pick(3000));
        size_t upto = pick(3) == 0 ? pick(batches.size() + 1) : batches.size(); // interrupted mid-way
        for (size_t k = 0; k < upto; ++k)
            m_nodes[j]->store->apply(batches[k]);
    }

    void resolve() {
        Node &n = randomNode();
        auto cs = n.store->conflicts();
        if (cs.empty())
            return;
        const Conflict &c = cs[pick(cs.size())];
        try {
            CommitResult res;
            switch (pick(4)) {
            case 0:
                res = n.store->resolveConflict(c.id, ResolveMode::KeepLocal);
                break;
            case 1:
                res = n.store->resolveConflict(c.id, ResolveMode::KeepRemote);
                break;
            case 2:
                res = n.store->resolveConflict(c.id, ResolveMode::Merge);
                break;
            default:
                res = n.store->resolveConflict(c.id, ResolveMode::Value, value());
                break;
            }
            broadcast(n, res.changes);
        } catch (const Error &e) {
            REQUIRE(e.code() == ErrorCode::NotFound); // document deleted since
            n.store->dismissConflict(c.id);
        }
    }

    void partition() {
        size_t n = m_nodes.size();
        if (pick(2)) {
            std::fill(m_down.begin(), m_down.end(), false);
            return;
        }
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < n; ++j)
                m_down[i * n + j] = pick(3) == 0;
    }

    void restart() {
        Node &n = *m_nodes[0];
        uint64_t before = n.store->stateHash();
        auto conflicts = n.store->conflicts().size();
        n.store.reset();
        open(n, 1);
        REQUIRE(n.store->stateHash() == before);
        REQUIRE(n.store->conflicts().size() == conflicts);
    }

    std::mt19937_64 m_rng;
    std::vector<std::unique_ptr<Node>> m_nodes;
    std::vector<std::deque<Bytes>> m_queues; // [from * n + to]
    std::vector<bool> m_down;
    size_t m_steps = 0;
};

} // namespace

TEST_CASE("convergence: 5 replicas, random ops and delivery, converge after heal") {
    uint64_t runs = 4;
    uint64_t opsPerRun = test::ops(4000) / runs;
    for (uint64_t run = 0; run < runs; ++run) {
        uint64_t seed = test::seed() + run;
        INFO("seed " << seed << " (replay: --seed=" << test::seed() << ")");
        test::TempDir dir;
        TestNetwork net(seed, 5, dir.path());
        for (uint64_t i = 0; i < opsPerRun; ++i)
            net.step();
        net.healAndCheck();
    }
}
