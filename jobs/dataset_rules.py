"""Rule ids of the training-data validator and the per-example structure checks.

Pure and stdlib-only: :func:`check_example` looks at one parsed JSON value and
reports problems through a callback; it also collects the strings whose tokens
count (see :mod:`jobs.tokens` for the convention). :mod:`jobs.dataset` streams
the file and calls it once per line.
"""

from __future__ import annotations

import json
from typing import Any, Callable

# --------------------------------------------------------------------------- rule ids
# errors: the OpenAI cookbook's format checks
DATA_TYPE = "data_type"
MISSING_MESSAGES_LIST = "missing_messages_list"
MESSAGE_MISSING_KEY = "message_missing_key"
MESSAGE_UNRECOGNIZED_KEY = "message_unrecognized_key"
UNRECOGNIZED_ROLE = "unrecognized_role"
MISSING_CONTENT = "missing_content"
EXAMPLE_MISSING_ASSISTANT_MESSAGE = "example_missing_assistant_message"
# errors: Azure's rules and the file itself
TOO_FEW_EXAMPLES = "too_few_examples"
FILE_TOO_LARGE = "file_too_large"
INVALID_UTF8 = "invalid_utf8"
INVALID_JSON = "invalid_json"
BLANK_LINE = "blank_line"
WEIGHT_NOT_ON_ASSISTANT = "weight_not_on_assistant"
INVALID_WEIGHT = "invalid_weight"
INVALID_NAME = "invalid_name"
TOOLS_MALFORMED = "tools_malformed"
TOOL_CALLS_MALFORMED = "tool_calls_malformed"
TOOL_MESSAGE_MISSING_ID = "tool_message_missing_id"
INVALID_CONTENT_PART = "invalid_content_part"
EXAMPLE_TOO_LONG = "example_too_long"
MODEL_NOT_FINE_TUNABLE = "model_not_fine_tunable"
# warnings
NO_SYSTEM_OR_USER = "no_system_or_user"
DUPLICATE_EXAMPLE = "duplicate_example"
MULTIPLE_SYSTEM_MESSAGES = "multiple_system_messages"
TXT_EXTENSION = "txt_extension"
TRAILING_BLANK_LINES = "trailing_blank_lines"

ERROR_RULES: dict[str, str] = {
    DATA_TYPE: "a line, or a message, is not a JSON object",
    MISSING_MESSAGES_LIST: "no non-empty `messages` list",
    MESSAGE_MISSING_KEY: "a message has no `role` or no `content`",
    MESSAGE_UNRECOGNIZED_KEY: "a message has a key other than role, content, name, weight, "
    "tool_calls, tool_call_id, function_call",
    UNRECOGNIZED_ROLE: "role is not system, user, assistant, tool or function",
    MISSING_CONTENT: "content is empty, missing or of the wrong type",
    EXAMPLE_MISSING_ASSISTANT_MESSAGE: "the example has no assistant message to learn from",
    TOO_FEW_EXAMPLES: "fewer than 10 examples (Azure's minimum)",
    FILE_TOO_LARGE: "the file is 512 MB or more (Azure's upload limit)",
    INVALID_UTF8: "a line is not UTF-8 (UTF-16 files included)",
    INVALID_JSON: "a line is not one JSON value",
    BLANK_LINE: "an empty line between examples",
    WEIGHT_NOT_ON_ASSISTANT: "`weight` on a non-assistant message",
    INVALID_WEIGHT: "`weight` is not 0 or 1",
    INVALID_NAME: "`name` is not a non-empty string",
    TOOLS_MALFORMED: "top-level `tools` / `functions` is not a list of function definitions",
    TOOL_CALLS_MALFORMED: "assistant `tool_calls` / `function_call` malformed (arguments must be a JSON string)",
    TOOL_MESSAGE_MISSING_ID: "a tool message has no `tool_call_id`, or one no earlier tool call made",
    INVALID_CONTENT_PART: "an element of a list `content` is not a valid text/image part",
    EXAMPLE_TOO_LONG: "the example's tokens exceed the model's training context",
    MODEL_NOT_FINE_TUNABLE: "the model can no longer be fine-tuned",
}
WARNING_RULES: dict[str, str] = {
    NO_SYSTEM_OR_USER: "the example has neither a system nor a user message",
    DUPLICATE_EXAMPLE: "the same example appears on an earlier line",
    MULTIPLE_SYSTEM_MESSAGES: "more than one distinct system message in the file",
    TXT_EXTENSION: "the file is named .txt (the lab's note: it must be JSONL)",
    TRAILING_BLANK_LINES: "blank lines at the end of the file",
}

ROLES = ("system", "user", "assistant", "tool", "function")
MESSAGE_KEYS = frozenset({"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call"})
IMAGE_DETAILS = ("auto", "low", "high")
_SIMPLE_ROLES = frozenset({"system", "user", "assistant"})
_NO_TOOLS: frozenset[str] = frozenset()

Report = Callable[[str, str], None]  # (rule, message)


class ExampleInfo:
    """What the token counter and the warnings need from one example (a plain slotted class:
    it is built once per line, so it is kept cheap)."""

    __slots__ = ("n_messages", "n_names", "fixed", "shared", "plain", "trained", "has_system", "has_user",
                 "has_assistant", "system_text", "image_parts")

    def __init__(self, n_messages: int = 0) -> None:
        self.n_messages = n_messages
        self.n_names = 0
        self.fixed = 0  # tokens already counted (roles on the fast path)
        # Strings whose tokens count, by how the counter should treat them:
        self.shared: list[str] = []  # likely repeated (system messages, tool definitions, roles, names): cached
        self.plain: list[str] = []  # likely unique (user turns, tool arguments, weight-0 answers)
        self.trained: list[str] = []  # assistant content with weight != 0: counted and trained
        self.has_system = False
        self.has_user = False
        self.has_assistant = False
        self.system_text: str | None = None  # the first system message's text
        self.image_parts = 0


def _where(i: int, role: Any = None) -> str:
    return f"message {i + 1}" + (f" ({role})" if isinstance(role, str) and role in ROLES else "")


def _type(v: Any) -> str:
    if v is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number"}.get(type(v), type(v).__name__)


def _check_tools(obj: dict[str, Any], report: Report, info: ExampleInfo) -> set[str] | frozenset[str]:
    """Top-level ``tools`` (and legacy ``functions``); returns the declared function names."""
    names: set[str] = set()
    for key in ("tools", "functions"):
        if key not in obj:
            continue
        tools = obj[key]
        if not isinstance(tools, list) or not tools:
            report(TOOLS_MALFORMED, f"`{key}` must be a non-empty list, got {_type(tools)}")
            continue
        ok = True
        for j, tool in enumerate(tools):
            fn = tool.get("function") if key == "tools" and isinstance(tool, dict) else tool
            if key == "tools" and (not isinstance(tool, dict) or tool.get("type") != "function"):
                report(TOOLS_MALFORMED, f"`tools[{j}]` must be an object with \"type\": \"function\"")
                ok = False
            elif not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
                where = f"tools[{j}].function" if key == "tools" else f"functions[{j}]"
                report(TOOLS_MALFORMED, f"`{where}` must be an object with a string `name`")
                ok = False
            elif "parameters" in fn and not isinstance(fn["parameters"], dict):
                report(TOOLS_MALFORMED, f"`parameters` of function {fn['name']!r} must be a JSON schema object")
                ok = False
            else:
                names.add(fn["name"])
        if ok:
            # Approximation: the definitions' JSON text (compact) stands for the tokens
            # the service adds when it renders them into the prompt.
            info.shared.append(json.dumps(tools, separators=(",", ":"), ensure_ascii=False))
    return names


def _check_arguments(where: str, call: Any, report: Report, info: ExampleInfo) -> bool:
    if not isinstance(call, dict) or not isinstance(call.get("name"), str) or not call["name"]:
        report(TOOL_CALLS_MALFORMED, f"{where} must be an object with a string `name`")
        return False
    args = call.get("arguments")
    if not isinstance(args, str):
        report(TOOL_CALLS_MALFORMED,
               f"{where}.arguments must be a JSON-encoded string, got {_type(args)} "
               "(write json.dumps(arguments))")
        return False
    try:
        json.loads(args)
    except ValueError:
        report(TOOL_CALLS_MALFORMED, f"{where}.arguments is not valid JSON text: {args[:40]!r}")
        return False
    info.shared.append(call["name"])
    info.plain.append(args)
    return True


def _check_content_parts(i: int, role: str, parts: list[Any], report: Report, info: ExampleInfo,
                         trained: bool) -> bool:
    ok = True
    for j, part in enumerate(parts):
        where = f"{_where(i, role)} content[{j}]"
        if not isinstance(part, dict):
            report(INVALID_CONTENT_PART, f"{where} must be an object, got {_type(part)}")
            ok = False
            continue
        ptype = part.get("type")
        if ptype == "text":
            text = part.get("text")
            if not isinstance(text, str) or not text:
                report(INVALID_CONTENT_PART, f"{where} of type text needs a non-empty string `text`")
                ok = False
            elif set(part) - {"type", "text"}:
                report(INVALID_CONTENT_PART, f"{where} has unknown keys {sorted(set(part) - {'type', 'text'})}")
                ok = False
            elif trained:
                info.trained.append(text)
            elif role == "system":
                info.shared.append(text)
            else:
                info.plain.append(text)
        elif ptype == "image_url":
            if role != "user":
                report(INVALID_CONTENT_PART, f"{where}: image parts are only allowed in user messages")
                ok = False
                continue
            image = part.get("image_url")
            if not isinstance(image, dict) or not isinstance(image.get("url"), str) or not image["url"]:
                report(INVALID_CONTENT_PART, f"{where} of type image_url needs `image_url: {{\"url\": ...}}`")
                ok = False
            elif "detail" in image and image["detail"] not in IMAGE_DETAILS:
                report(INVALID_CONTENT_PART, f"{where} image detail must be one of {', '.join(IMAGE_DETAILS)}")
                ok = False
            else:
                info.image_parts += 1
        else:
            report(INVALID_CONTENT_PART, f"{where} has type {ptype!r}; expected \"text\" or \"image_url\"")
            ok = False
    return ok


def check_example(obj: Any, report: Report, role_tokens: dict[str, int] | None = None) -> ExampleInfo | None:
    """Check one parsed line; report every problem; return what the counters need.

    ``role_tokens`` (tokens of each role name in the caller's encoding) lets the common
    message shape skip a cache lookup per role.

    Returns ``None`` when the line is not an example at all (not an object, no
    messages list), else an :class:`ExampleInfo` (possibly of a broken example).
    """
    if not isinstance(obj, dict):
        report(DATA_TYPE, f"each line must be a JSON object with a `messages` list, got {_type(obj)}")
        return None
    messages = obj.get("messages")
    if not messages or not isinstance(messages, list):
        got = "missing" if "messages" not in obj else f"{_type(messages)}{' (empty)' if messages == [] else ''}"
        report(MISSING_MESSAGES_LIST, f"`messages` must be a non-empty list of messages, got {got}")
        return None
    info = ExampleInfo(n_messages=len(messages))
    tool_names = _check_tools(obj, report, info) if ("tools" in obj or "functions" in obj) else _NO_TOOLS
    call_ids: set[str] = set()
    shared, plain, trained_strings = info.shared, info.plain, info.trained
    for i, msg in enumerate(messages):
        # Fast path: the common {"role": system|user|assistant, "content": "non-empty"} message.
        if type(msg) is dict and len(msg) == 2:
            role = msg.get("role")
            content = msg.get("content")
            if type(content) is str and content and type(role) is str and role in _SIMPLE_ROLES:
                if role_tokens is None:
                    shared.append(role)
                else:
                    info.fixed += role_tokens[role]
                if role == "assistant":
                    trained_strings.append(content)
                    info.has_assistant = True
                elif role == "user":
                    plain.append(content)
                    info.has_user = True
                else:
                    shared.append(content)
                    info.has_system = True
                    if info.system_text is None:
                        info.system_text = content
                continue
        if not isinstance(msg, dict):
            report(DATA_TYPE, f"{_where(i)} must be a JSON object, got {_type(msg)}")
            continue
        role = msg.get("role")
        unknown = [k for k in msg if k not in MESSAGE_KEYS]
        if unknown:
            report(MESSAGE_UNRECOGNIZED_KEY,
                   f"{_where(i, role)} has unrecognized key(s) {', '.join(map(repr, unknown))}; "
                   f"allowed: {', '.join(sorted(MESSAGE_KEYS))}")
        if "role" not in msg:
            report(MESSAGE_MISSING_KEY, f"{_where(i)} has no `role`")
        elif role not in ROLES:
            report(UNRECOGNIZED_ROLE, f"{_where(i)} has role {role!r}; expected one of {', '.join(ROLES)}")
        else:
            shared.append(role)
        has_calls = "tool_calls" in msg or "function_call" in msg
        if "content" not in msg and not (role == "assistant" and has_calls):
            report(MESSAGE_MISSING_KEY, f"{_where(i, role)} has no `content`")

        # weight: assistant only, 0 or 1
        trained = True
        if "weight" in msg:
            w = msg["weight"]
            if role != "assistant":
                report(WEIGHT_NOT_ON_ASSISTANT, f"{_where(i, role)} has `weight`; only assistant messages may")
            elif isinstance(w, bool) or not isinstance(w, (int, float)) or w not in (0, 1):
                report(INVALID_WEIGHT, f"{_where(i, role)} has weight {json.dumps(w)}; it must be 0 or 1")
            else:
                trained = w == 1

        if "name" in msg:
            name = msg["name"]
            if not isinstance(name, str) or not name:
                report(INVALID_NAME, f"{_where(i, role)} `name` must be a non-empty string, got {_type(name)}")
            else:
                info.n_names += 1
                shared.append(name)
        elif role == "function":
            report(INVALID_NAME, f"{_where(i, role)} needs the `name` of the function that answered")

        # tool calls
        if "tool_calls" in msg:
            calls = msg["tool_calls"]
            if role != "assistant":
                report(TOOL_CALLS_MALFORMED, f"{_where(i, role)} has `tool_calls`; only assistant messages may")
            elif not isinstance(calls, list) or not calls:
                report(TOOL_CALLS_MALFORMED, f"{_where(i, role)} `tool_calls` must be a non-empty list")
            else:
                if not tool_names:
                    report(TOOLS_MALFORMED, f"{_where(i, role)} makes tool calls but the example has no "
                                            "top-level `tools` list declaring them")
                for j, call in enumerate(calls):
                    where = f"{_where(i, role)} tool_calls[{j}]"
                    if (not isinstance(call, dict) or not isinstance(call.get("id"), str) or not call["id"]
                            or call.get("type") != "function"):
                        report(TOOL_CALLS_MALFORMED,
                               f"{where} must have a string `id`, \"type\": \"function\" and a `function`")
                        continue
                    call_ids.add(call["id"])
                    plain.append(call["id"])
                    _check_arguments(f"{where}.function", call.get("function"), report, info)
        if "function_call" in msg:
            if role != "assistant":
                report(TOOL_CALLS_MALFORMED, f"{_where(i, role)} has `function_call`; only assistant messages may")
            else:
                _check_arguments(f"{_where(i, role)} function_call", msg["function_call"], report, info)
        if "tool_call_id" in msg and role != "tool":
            report(MESSAGE_UNRECOGNIZED_KEY, f"{_where(i, role)} has `tool_call_id`; only tool messages may")
        if role == "tool":
            tcid = msg.get("tool_call_id")
            if not isinstance(tcid, str) or not tcid:
                report(TOOL_MESSAGE_MISSING_ID, f"{_where(i, role)} needs a string `tool_call_id` naming "
                                                "the assistant tool call it answers")
            elif tcid not in call_ids:
                report(TOOL_MESSAGE_MISSING_ID, f"{_where(i, role)} answers tool_call_id {tcid!r}, which no "
                                                "earlier assistant tool call in this example made")
            else:
                plain.append(tcid)

        # content
        if "content" in msg:
            content = msg["content"]
            if isinstance(content, str):
                if content or (role == "assistant" and has_calls):
                    if role == "assistant" and trained:
                        trained_strings.append(content)
                    elif role == "system":
                        shared.append(content)
                    else:
                        plain.append(content)
                else:
                    report(MISSING_CONTENT, f"{_where(i, role)} has empty content")
            elif content is None:
                if not (role == "assistant" and has_calls):
                    report(MISSING_CONTENT, f"{_where(i, role)} has null content (only an assistant message "
                                            "with tool_calls may)")
            elif isinstance(content, list):
                if not content:
                    report(MISSING_CONTENT, f"{_where(i, role)} has an empty content list")
                elif role in ROLES:
                    _check_content_parts(i, role, content, report, info, role == "assistant" and trained)
            else:
                report(MISSING_CONTENT, f"{_where(i, role)} content must be a string or a list of parts, "
                                        f"got {_type(content)}")

        if role == "system":
            info.has_system = True
            if info.system_text is None:
                c = msg.get("content")
                info.system_text = c if isinstance(c, str) else json.dumps(c, sort_keys=True)
        elif role == "user":
            info.has_user = True
        elif role == "assistant":
            info.has_assistant = True
    if not info.has_assistant:
        report(EXAMPLE_MISSING_ASSISTANT_MESSAGE, "the example has no assistant message, so there is "
                                                  "nothing to learn; add the answer you want")
    return info
