"""Staff sessions read from the cache (Redis) and written through to the database
(Django's cached_db engine), so a request reads its session without a query.

The database stays the record: a session is saved there first, a Redis outage reads
as a cache miss (moderation.cache), and sign-out deletes the row and the cached copy.
The copy lives at most SESSION_CACHE_SECONDS: if Redis is unreachable at the moment
of a sign-out (the cached copy could not be deleted) and comes back still holding it,
the signed-out session works for at most that long; a session expired or deleted in
the database directly ends within that time too.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore


class SessionStore(CachedDBStore):
    cache_key_prefix = "moderation.session:"

    def _cache_seconds(self, expiry=None) -> int:
        return max(0, min(self.get_expiry_age(expiry=expiry), settings.SESSION_CACHE_SECONDS))

    def load(self):
        data = self._cache.get(self.cache_key)
        if data is not None:
            return data
        stored = self._get_session_from_db()
        if not stored:
            return {}
        data = self.decode(stored.session_data)
        self._cache.set(self.cache_key, data, self._cache_seconds(stored.expire_date))
        return data

    def save(self, must_create=False):
        super(CachedDBStore, self).save(must_create)
        self._cache.set(self.cache_key, self._session, self._cache_seconds())

    async def aload(self):
        return await sync_to_async(self.load)()

    async def asave(self, must_create=False):
        await sync_to_async(self.save)(must_create)
