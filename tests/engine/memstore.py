"""A dict-backed stand-in for the Odoo layer: applies ``SyncBatch`` streams the same way.

Engine-tier tests sync a real Dovecot into it and assert the exact final mailbox state.
Its rules mirror ``maildesk.message._apply_batch``: upsert by remote id, re-bind by
message key, drop unbound after a re-bind, remove vanished, write flag diffs.
"""
from maildesk_mail_client.engine.mime import message_key_from_headers
from maildesk_mail_client.engine.provider import LocalView


class FolderStore:
    def __init__(self):
        self.cursor = {}
        self.messages = {}  # remote_id -> dict(key, is_read, is_starred, raw)
        self.batches = 0

    def view(self):
        return LocalView(known_remote_ids=lambda: list(self.messages), count=lambda: len(self.messages))

    def apply(self, batch):
        self.batches += 1
        for key, states in batch.rebind.items():
            local = [rid for rid, m in self.messages.items() if m["key"] == key]
            for rid, state in zip(local, states):
                message = self.messages.pop(rid)
                message.update(is_read=state.is_read, is_starred=state.is_starred)
                self.messages[state.remote_id] = message
        if batch.drop_unbound:
            keep = set(batch.keep)
            for rid in [r for r in self.messages if r not in keep]:
                del self.messages[rid]
        for rid in batch.vanished:
            self.messages.pop(rid, None)
        for state in batch.flags:
            if state.remote_id in self.messages:
                self.messages[state.remote_id].update(is_read=state.is_read, is_starred=state.is_starred)
        for remote in batch.messages:
            self.messages.setdefault(remote.remote_id, {
                "key": message_key_from_headers(remote.raw or b""), "is_read": remote.is_read,
                "is_starred": remote.is_starred, "raw": remote.raw, "partial": remote.partial})
        if batch.cursor:
            self.cursor = dict(batch.cursor)

    def sync(self, provider, folder, options):
        for batch in provider.sync_folder(folder, self.cursor, self.view(), options):
            self.apply(batch)

    def backfill(self, provider, folder, options, limit=10 ** 6):
        for batch in provider.backfill_folder(folder, self.cursor, self.view(), options, limit):
            self.apply(batch)

    def keys(self):
        return sorted(m["key"] for m in self.messages.values())
