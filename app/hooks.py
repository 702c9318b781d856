"""Every app-wide signal in one place, named for when it fires. Screens react to these, never to each other."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class Hooks(QObject):
    engine_did_start = Signal(object)  # the Engine, once created in a worker
    engine_did_fail = Signal(str)  # why it could not start (shown in the window, not a crash)
    conversations_did_change = Signal()  # a conversation was created, renamed, deleted or answered
    conversation_will_open = Signal(str)  # show this conversation in the chat window (e.g. "Continue in chat")
    chat_will_ask = Signal(str)  # start a new chat with this prompt (e.g. "Ask about this finding")
    models_did_pause = Signal(bool)  # models unloaded and new answers held (True) or allowed again (False)
    settings_did_save = Signal(object)  # the new Settings
    quick_ask_will_show = Signal()
    quick_ask_will_open = Signal(str)  # show the quick ask with this prompt typed in, not sent (an example prompt)
    permission_will_ask = Signal(object)  # the PermissionDialog, about to be shown (the self-test answers it)
    permission_did_answer = Signal(object, object)  # the PermissionRequest and the user's Answer
    grants_did_change = Signal()  # a stored grant was added or revoked
    mcp_servers_did_change = Signal()  # an MCP server was added, removed or imported (mcp.json changed)
    main_window_will_show = Signal()
    answer_did_progress = Signal(str, int)  # a surface ("chat", "quick ask") is generating: tokens so far
    answer_did_end = Signal(str, object)  # that surface's answer ended: its Done event, or the error
    models_did_change = Signal()  # a model or adapter was added or removed (e.g. a pack imported)
    app_will_close = Signal()  # the app is shutting down: stop background work (emitted before the workers wait)
    api_server_did_change = Signal(str)  # the local API server started ("http://…") or stopped (""), or why not
