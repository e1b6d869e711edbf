#include "oauth/secret_rewrap.hpp"

#include "oauth/credentials.hpp"
#include "oauth/oauth_apps.hpp"

#include <openssl/crypto.h>

namespace connector::core {

std::string sealing_context_of(const SealedSecret& secret) {
  switch (secret.column) {
  case SecretColumn::source_credentials: return sealing_context("source", secret.id, "credentials");
  case SecretColumn::flow_code_verifier: return flow_sealing_context(secret.id, "code_verifier");
  case SecretColumn::flow_credentials: return flow_sealing_context(secret.id, "credentials");
  case SecretColumn::oauth_app_configuration: {
    OAuthAppRecord app;
    app.organization_id = secret.id;
    app.scope = secret.scope;
    app.slug = secret.slug;
    return oauth_app_sealing_context(app);
  }
  }
  return {};
}

void rewrap_step(Store& store, const Sealer& sealer, RewrapCursor& cursor, int page_size, int64_t now,
                 RewrapCounts& counts) {
  const std::vector<SealedSecret> page = store.list_sealed_secrets(cursor.column, cursor.after, page_size);
  const uint32_t current = sealer.current_key_id();
  for (const SealedSecret& secret : page) {
    ++counts.visited;
    if (Sealer::key_id_of(secret.sealed) == current) continue;
    const std::string context = sealing_context_of(secret);
    std::optional<std::string> opened = sealer.open(secret.sealed, context);
    if (!opened) {
      ++counts.unreadable;
      continue;
    }
    std::string& plaintext = *opened;
    const std::vector<uint8_t> resealed = sealer.seal(plaintext, context);
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    if (store.replace_sealed_secret(secret, resealed, now)) {
      ++counts.resealed;
    } else {
      ++counts.changed_meanwhile;
    }
  }
  cursor.done = static_cast<int>(page.size()) < page_size;
  if (!page.empty()) cursor.after = page.back();
}

} // namespace connector::core
