"""State shared by every gateway process that names the same Redis (CONTRACT.md §8).

- `state.SharedState`: the connection, whether Redis is usable now (`ok`, `degraded`, `off`),
  the keyed hashes that name everything stored and the AEAD that seals cached answers;
- `cache.SharedCache`: the upstream cache's shared tier, with in-flight claims so that one
  process makes an upstream call and the others wait for its answer;
- `limits.SharedWindow`: one credential's upstream rate limit, counted atomically in Redis;
- `quotas.SharedQuotas`: the clients' quotas, counted atomically in Redis.

Each falls back to its per-process twin when Redis is lost (rate limits and quotas at the
replica's safe share: `[redis] replicas` × workers divides them) and uses Redis again by
itself once it is back. Nothing stored holds a fiscal number, a name or a secret in clear.
"""
