// Client-side encryption as a filter in the stream (STYLE.md 17): a Storage that wraps another
// Storage and encrypts every object written through it with AES-256-GCM in 64 KiB chunks
// (format.hpp), decrypting and authenticating on every read. Callers see plaintext only: reads,
// byte ranges (only the chunks that hold the range are fetched and decrypted), and sizes in
// stat() and list() (computed from the stored size, no read needed). Staging folders are local
// temporary folders committed file by file through the filter (copy_staging), never renamed into
// the repository, so no plaintext file is ever stored.
//
// Errors name the object (its describe()): a chunk that fails authentication or an object cut
// short is an Error(io); an object written with a key the repository does not have, or stored in
// clear, is a storage::KeyError naming the key ids involved and where the keys are configured.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "storage/crypto/keys.hpp"
#include "storage/storage.hpp"

namespace pgr::storage::crypto {

// `inner` holds the stored form; `name` (the repository's settings name) appears in errors;
// `staging_base` is where backups are staged before they are encrypted and stored (empty:
// $TMPDIR, else /tmp).
std::shared_ptr<Storage> encrypted(std::shared_ptr<Storage> inner, Keyring keys, std::string name,
                                   std::filesystem::path staging_base);

// A repository without a key: everything passes through unchanged, but an object that starts
// with an encryption header is refused with a KeyError naming its key id, instead of handing
// ciphertext to pg_restore or PostgreSQL.
std::shared_ptr<Storage> refuse_encrypted(std::shared_ptr<Storage> inner, std::string name, std::string origin);

}  // namespace pgr::storage::crypto
