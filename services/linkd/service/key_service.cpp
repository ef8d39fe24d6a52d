#include "service/key_service.hpp"

#include "service/crypto.hpp"

#include <algorithm>
#include <cctype>

namespace linkd {
namespace {

constexpr std::string_view kKeyTag = "lk_";

ServiceError unauthenticated(std::string detail) {
    return {Fault::unauthenticated, std::move(detail), {}};
}
ServiceError forbidden() {
    return {Fault::forbidden, "this operation needs an admin key", {}};
}

}  // namespace

KeyService::KeyService(Repository& repo, KeyServiceOptions options)
    : repo_(repo), options_(std::move(options)), verified_({.max_entries = 10'000}) {}

bool KeyService::well_formed(std::string_view key) {
    if (key.size() != kKeyTag.size() + kRandomLength || key.substr(0, kKeyTag.size()) != kKeyTag) {
        return false;
    }
    for (char c : key.substr(kKeyTag.size())) {
        if (!std::isalnum(static_cast<unsigned char>(c))) {
            return false;
        }
    }
    return true;
}

Task<ServiceResult<Principal>> KeyService::authenticate(std::optional<std::string_view> authorization) {
    if (!authorization) {
        co_return unauthenticated("an API key is required: Authorization: Bearer <key>");
    }
    std::string_view v = *authorization;
    constexpr std::string_view kScheme = "Bearer ";
    if (v.size() <= kScheme.size() || !std::equal(kScheme.begin(), kScheme.end(), v.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
        co_return unauthenticated("the Authorization header must use the Bearer scheme");
    }
    std::string_view key = v.substr(kScheme.size());
    while (!key.empty() && key.front() == ' ') {
        key.remove_prefix(1);
    }
    if (!well_formed(key)) {
        co_return unauthenticated("the API key is malformed");
    }
    std::string hash = sha256_hex(key);
    if (auto hit = verified_.get(hash)) {
        co_return **hit;
    }
    std::string prefix(key.substr(kKeyTag.size(), kPrefixLength));
    KEEL_CO_TRY(found, co_await repo_.find_key_by_prefix(prefix));
    if (!found || !constant_time_equal(found->hash, hash) || found->revoked_at) {
        co_return unauthenticated("the API key is unknown or revoked");
    }
    auto principal = std::make_shared<const Principal>(Principal{found->id, found->admin, found->prefix});
    verified_.put(hash, principal, options_.cache_ttl);
    co_return *principal;
}

Task<ServiceResult<CreatedKey>> KeyService::insert(std::string name, bool admin, std::optional<std::string> secret) {
    for (int attempt = 0;; ++attempt) {
        std::string key = secret ? *secret : std::string(kKeyTag) + random_base62(kRandomLength);
        ApiKey k;
        k.name = name;
        k.prefix = key.substr(kKeyTag.size(), kPrefixLength);
        k.hash = sha256_hex(key);
        k.admin = admin;
        k.created_at = options_.now();
        auto inserted = co_await repo_.insert_key(k);
        if (inserted) {
            co_return CreatedKey{std::move(*inserted), std::move(key)};
        }
        // A prefix collision (62^8 values) is astronomically rare; draw again.
        if (inserted.error().code() != keel::Errc::conflict || secret || attempt == 3) {
            co_return ServiceError(inserted.error());
        }
    }
}

Task<ServiceResult<CreatedKey>> KeyService::create(const Principal& caller, std::string name, bool admin) {
    if (!caller.admin) {
        co_return forbidden();
    }
    if (name.empty() || name.size() > 100) {
        co_return ServiceError{Fault::invalid, "the key failed validation", {{"/name", "must be 1 to 100 bytes long"}}};
    }
    if (std::any_of(name.begin(), name.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
        co_return ServiceError{Fault::invalid,
                               "the key failed validation",
                               {{"/name", "must not contain control characters (CR, LF, NUL, tab, ...)"}}};
    }
    co_return co_await insert(std::move(name), admin, std::nullopt);
}

Task<ServiceResult<void>> KeyService::revoke(const Principal& caller, std::int64_t id) {
    if (!caller.admin) {
        co_return forbidden();
    }
    KEEL_CO_TRY(revoked, co_await repo_.revoke_key(id, options_.now()));
    if (!revoked) {
        co_return ServiceError{Fault::not_found, "no active API key with id " + std::to_string(id), {}};
    }
    verified_.clear();  // the revoked key must stop working here at once
    if (on_revoked_) {
        co_await on_revoked_();
    }
    co_return ServiceResult<void>{};
}

Task<ServiceResult<std::optional<CreatedKey>>> KeyService::ensure_admin(std::string configured_key) {
    if (!configured_key.empty()) {
        if (!well_formed(configured_key)) {
            co_return ServiceError{
                Fault::invalid, "auth.admin_key must be \"lk_\" followed by 40 letters or digits", {}};
        }
        const std::string prefix = configured_key.substr(kKeyTag.size(), kPrefixLength);
        auto is_it = [&](const std::optional<ApiKey>& k) {
            return k && k->admin && !k->revoked_at && constant_time_equal(k->hash, sha256_hex(configured_key));
        };
        KEEL_CO_TRY(existing, co_await repo_.find_key_by_prefix(prefix));
        if (existing) {
            if (!is_it(existing)) {
                co_return ServiceError{
                    Fault::conflict, "auth.admin_key clashes with a stored key that is not that active admin key", {}};
            }
            co_return std::optional<CreatedKey>{};
        }
        auto made = co_await insert("admin (from configuration)", true, configured_key);
        if (!made) {
            // Another instance starting at the same moment may have stored it first.
            KEEL_CO_TRY(now, co_await repo_.find_key_by_prefix(prefix));
            if (!is_it(now)) {
                co_return std::move(made.error());
            }
        }
        co_return std::optional<CreatedKey>{};  // the operator knows it already: do not print it
    }
    KEEL_CO_TRY(has_admin, co_await repo_.has_admin_key());
    if (has_admin) {
        co_return std::optional<CreatedKey>{};
    }
    auto made = co_await insert("admin (created at first start)", true, std::nullopt);
    if (!made) {
        co_return std::move(made.error());
    }
    co_return std::optional<CreatedKey>(std::move(*made));
}

}  // namespace linkd
