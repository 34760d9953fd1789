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
LEGACY_PROMPT_COMPLETION = "legacy_prompt_completion"
FORMAT_MISMATCH = "format_mismatch"
# errors: vision (how-to/fine-tuning-vision.md)
TOO_MANY_IMAGES = "too_many_images"
UNSUPPORTED_IMAGE_FORMAT = "unsupported_image_format"
IMAGE_TOO_LARGE = "image_too_large"
TOO_MANY_IMAGE_EXAMPLES = "too_many_image_examples"
MODEL_NOT_VISION_CAPABLE = "model_not_vision_capable"
# errors: direct preference optimization (how-to/fine-tuning-direct-preference-optimization.md)
MISSING_INPUT = "missing_input"
MISSING_OUTPUT = "missing_output"
INVALID_OUTPUT_ROLE = "invalid_output_role"
INPUT_MISSING_USER = "input_missing_user"
UNRECOGNIZED_KEY = "unrecognized_key"
MODEL_NOT_DPO_CAPABLE = "model_not_dpo_capable"
# warnings
NO_SYSTEM_OR_USER = "no_system_or_user"
DUPLICATE_EXAMPLE = "duplicate_example"
MULTIPLE_SYSTEM_MESSAGES = "multiple_system_messages"
TXT_EXTENSION = "txt_extension"
TRAILING_BLANK_LINES = "trailing_blank_lines"
IDENTICAL_OUTPUTS = "identical_outputs"

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
    TOOLS_MALFORMED: "top-level `tools` / `functions` is not a list of function definitions (an empty list is fine)",
    TOOL_CALLS_MALFORMED: "assistant `tool_calls` / `function_call` malformed (arguments must be a JSON string)",
    TOOL_MESSAGE_MISSING_ID: "a tool message has no `tool_call_id`, or one no earlier tool call made",
    INVALID_CONTENT_PART: "an element of a list `content` is not a valid text/image part",
    EXAMPLE_TOO_LONG: "the example's tokens exceed the model's training context",
    MODEL_NOT_FINE_TUNABLE: "the model can no longer be fine-tuned",
    LEGACY_PROMPT_COMPLETION: "a legacy `prompt`/`completion` line: convert it to `messages` (user, assistant)",
    FORMAT_MISMATCH: "a preference (DPO) line checked as supervised data, or a chat line checked as DPO data",
    TOO_MANY_IMAGES: "more than 64 images in one example (Azure's vision limit)",
    UNSUPPORTED_IMAGE_FORMAT: "an image that is not JPEG, PNG or WEBP, or not an http(s) or data: URL",
    IMAGE_TOO_LARGE: "a base64 (data: URL) image over 10 MB",
    TOO_MANY_IMAGE_EXAMPLES: "more than 50,000 examples with images in one file",
    MODEL_NOT_VISION_CAPABLE: "images in the data, but the model has no vision fine-tuning (gpt-4o, gpt-4.1 have)",
    MISSING_INPUT: "DPO: no `input` object with a non-empty `messages` list",
    MISSING_OUTPUT: "DPO: `preferred_output` or `non_preferred_output` missing or not a non-empty list",
    INVALID_OUTPUT_ROLE: "DPO: an output message whose role is not assistant or tool, or an output without an "
    "assistant message",
    INPUT_MISSING_USER: "DPO: `input.messages` has no user message",
    UNRECOGNIZED_KEY: "DPO: a key other than input, preferred_output, non_preferred_output (or, in `input`, "
    "other than messages, tools, parallel_tool_calls)",
    MODEL_NOT_DPO_CAPABLE: "--method dpo on a model Azure does not train with DPO (gpt-4o, gpt-4.1, gpt-4.1-mini do)",
}
WARNING_RULES: dict[str, str] = {
    NO_SYSTEM_OR_USER: "the example has neither a system nor a user message",
    DUPLICATE_EXAMPLE: "the same example appears on an earlier line",
    MULTIPLE_SYSTEM_MESSAGES: "more than one distinct system message in the file",
    TXT_EXTENSION: "the file is named .txt (the lab's note: it must be JSONL)",
    TRAILING_BLANK_LINES: "blank lines at the end of the file",
    IDENTICAL_OUTPUTS: "DPO: the preferred and non-preferred outputs are the same (nothing to learn)",
}

ROLES = ("system", "user", "assistant", "tool", "function")
OUTPUT_ROLES = ("assistant", "tool")  # DPO outputs: "can only have roles in (assistant, tool)"
PREFERENCE_KEYS = frozenset({"input", "preferred_output", "non_preferred_output"})
INPUT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls"})
MAX_IMAGES_PER_EXAMPLE = 64  # how-to/fine-tuning-vision.md, "Image dataset requirements"
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # "Max image file size: 10 MB"
MAX_IMAGE_EXAMPLES = 50_000  # "Max examples with images per training file"
IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/jpg", "image/png", "image/webp"})  # "JPEG, PNG, WEBP"
# URL endings of image formats Azure does not take (a URL without a known ending is not judged)
UNSUPPORTED_IMAGE_SUFFIXES = (".gif", ".bmp", ".tif", ".tiff", ".svg", ".ico", ".heic", ".heif", ".avif")
MESSAGE_KEYS = frozenset({"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call"})
IMAGE_DETAILS = ("auto", "low", "high")
_SIMPLE_ROLES = frozenset({"system", "user", "assistant"})

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


def _where(i: int, role: Any = None, label: str = "message") -> str:
    return f"{label} {i + 1}" + (f" ({role})" if isinstance(role, str) and role in ROLES else "")


def _type(v: Any) -> str:
    if v is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number"}.get(type(v), type(v).__name__)


def _check_tools(obj: dict[str, Any], report: Report, info: ExampleInfo) -> None:
    """Top-level ``tools`` (and legacy ``functions``). An empty list is fine: Azure's own tool-calling example
    has ``"tools": []`` (how-to/fine-tuning-functions.md), and it recommends omitting definitions to save tokens,
    so tool calls need no declaration."""
    for key in ("tools", "functions"):
        if key not in obj:
            continue
        tools = obj[key]
        if not isinstance(tools, list):
            report(TOOLS_MALFORMED, f"`{key}` must be a list, got {_type(tools)}")
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
        if ok and tools:
            # Approximation: the definitions' JSON text (compact) stands for the tokens
            # the service adds when it renders them into the prompt.
            info.shared.append(json.dumps(tools, separators=(",", ":"), ensure_ascii=False))


def _check_arguments(where: str, call: Any, report: Report, info: ExampleInfo, trained: bool) -> bool:
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
    # the call an assistant makes is what it learns: its name and arguments are trained tokens
    (info.trained if trained else info.shared).append(call["name"])
    (info.trained if trained else info.plain).append(args)
    return True


def _check_image(where: str, url: str, report: Report) -> bool:
    """An image URL: public http(s) or a base64 ``data:`` URL of a JPEG, PNG or WEBP of at most 10 MB
    (how-to/fine-tuning-vision.md, "Image dataset requirements" and "Format")."""
    low = url[:64].lower()
    if low.startswith("data:"):
        head, sep, payload = url.partition(",")
        media = head[5:].split(";", 1)[0].strip().lower()
        if not sep or media not in IMAGE_MEDIA_TYPES:
            report(UNSUPPORTED_IMAGE_FORMAT, f"{where}: a data URL of type {media or 'unknown'!r}; Azure takes "
                                             "JPEG, PNG or WEBP images (data:image/png;base64,...)")
            return False
        if len(payload) * 3 // 4 > MAX_IMAGE_BYTES:
            report(IMAGE_TOO_LARGE, f"{where}: the image is about {len(payload) * 3 // 4:,} bytes; Azure takes "
                                    f"images up to 10 MB ({MAX_IMAGE_BYTES:,} bytes): resize or compress it")
            return False
        return True
    if not low.startswith(("https://", "http://")):
        report(UNSUPPORTED_IMAGE_FORMAT, f"{where}: the image must be a public http(s) URL or a base64 data: URL")
        return False
    path = url.split("?", 1)[0].split("#", 1)[0].lower()
    if path.endswith(UNSUPPORTED_IMAGE_SUFFIXES):
        report(UNSUPPORTED_IMAGE_FORMAT, f"{where}: {path.rsplit('.', 1)[-1].upper()} is not a format Azure "
                                         "takes; convert the image to JPEG, PNG or WEBP")
        return False
    return True


def _check_content_parts(where_msg: str, role: str, parts: list[Any], report: Report, info: ExampleInfo,
                         trained: bool) -> bool:
    ok = True
    for j, part in enumerate(parts):
        where = f"{where_msg} content[{j}]"
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
            elif _check_image(where, image["url"], report):
                info.image_parts += 1
            else:
                ok = False
        else:
            report(INVALID_CONTENT_PART, f"{where} has type {ptype!r}; expected \"text\" or \"image_url\"")
            ok = False
    return ok


def _check_messages(messages: list[Any], report: Report, info: ExampleInfo, role_tokens: dict[str, int] | None,
                    call_ids: set[str], *, label: str = "message", train: bool = True,
                    roles: tuple[str, ...] = ROLES) -> None:
    """Check one list of messages and collect its strings into ``info``. ``train``: assistant content is trained
    (False for a DPO ``input``); ``roles``: the roles allowed here (DPO outputs: assistant and tool).

    The common ``{"role": system|user|assistant, "content": "non-empty"}`` message takes the fast path inline;
    any other goes through :data:`MESSAGE_CHECKS`, one small check per concern, in order."""
    shared, plain = info.shared, info.plain
    answers = info.trained if train else plain
    simple = _SIMPLE_ROLES if roles is ROLES else _SIMPLE_ROLES.intersection(roles)
    info.n_messages += len(messages)
    context = _Context(report, info, call_ids, label, train, roles)
    for i, msg in enumerate(messages):
        if type(msg) is dict and len(msg) == 2:  # the fast path
            role = msg.get("role")
            content = msg.get("content")
            if type(content) is str and content and type(role) is str and role in simple:
                if role_tokens is None:
                    shared.append(role)
                else:
                    info.fixed += role_tokens[role]
                if role == "assistant":
                    answers.append(content)
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
            report(DATA_TYPE, f"{_where(i, label=label)} must be a JSON object, got {_type(msg)}")
            continue
        message = _Message(i, msg, label, train)
        for check in MESSAGE_CHECKS:
            check(message, context)


class _Context:
    """What the checks of one list of messages share."""

    __slots__ = ("report", "info", "call_ids", "label", "train", "roles")

    def __init__(self, report: Report, info: ExampleInfo, call_ids: set[str], label: str, train: bool,
                 roles: tuple[str, ...]) -> None:
        self.report, self.info, self.call_ids = report, info, call_ids
        self.label, self.train, self.roles = label, train, roles


class _Message:
    """One message off the fast path: where it is, its role, and whether its answer is trained."""

    __slots__ = ("i", "msg", "role", "here", "has_calls", "trained")

    def __init__(self, i: int, msg: dict[str, Any], label: str, train: bool) -> None:
        self.i, self.msg = i, msg
        self.role = msg.get("role")
        self.here = _where(i, self.role, label)
        self.has_calls = "tool_calls" in msg or "function_call" in msg
        self.trained = train  # False for a weight-0 answer (_check_weight)

    @property
    def calls_trained(self) -> bool:
        """An assistant's calls are trained like its text."""
        return self.role == "assistant" and self.trained


def _check_keys(m: _Message, c: _Context) -> None:
    unknown = [k for k in m.msg if k not in MESSAGE_KEYS]
    if unknown:
        c.report(MESSAGE_UNRECOGNIZED_KEY, f"{m.here} has unrecognized key(s) {', '.join(map(repr, unknown))}; "
                                           f"allowed: {', '.join(sorted(MESSAGE_KEYS))}")


def _check_role(m: _Message, c: _Context) -> None:
    if "role" not in m.msg:
        c.report(MESSAGE_MISSING_KEY, f"{_where(m.i, label=c.label)} has no `role`")
    elif m.role not in ROLES:
        c.report(UNRECOGNIZED_ROLE, f"{_where(m.i, label=c.label)} has role {m.role!r}; expected one of "
                                    f"{', '.join(ROLES)}")
    elif m.role not in c.roles:
        c.report(INVALID_OUTPUT_ROLE, f"{m.here}: an output may only hold {' and '.join(c.roles)} messages")
    else:
        c.info.shared.append(m.role)


def _check_has_content(m: _Message, c: _Context) -> None:
    if "content" not in m.msg and not (m.role == "assistant" and m.has_calls):
        c.report(MESSAGE_MISSING_KEY, f"{m.here} has no `content`")


def _check_weight(m: _Message, c: _Context) -> None:
    """``weight``: assistant messages only, 0 or 1; 0 leaves the answer untrained."""
    if "weight" not in m.msg:
        return
    w = m.msg["weight"]
    if m.role != "assistant":
        c.report(WEIGHT_NOT_ON_ASSISTANT, f"{m.here} has `weight`; only assistant messages may")
    elif isinstance(w, bool) or not isinstance(w, (int, float)) or w not in (0, 1):
        c.report(INVALID_WEIGHT, f"{m.here} has weight {json.dumps(w)}; it must be 0 or 1")
    else:
        m.trained = c.train and w == 1


def _check_name(m: _Message, c: _Context) -> None:
    if "name" in m.msg:
        name = m.msg["name"]
        if not isinstance(name, str) or not name:
            c.report(INVALID_NAME, f"{m.here} `name` must be a non-empty string, got {_type(name)}")
        else:
            c.info.n_names += 1
            c.info.shared.append(name)
    elif m.role == "function":
        c.report(INVALID_NAME, f"{m.here} needs the `name` of the function that answered")


def _check_tool_calls(m: _Message, c: _Context) -> None:
    if "tool_calls" not in m.msg:
        return
    calls = m.msg["tool_calls"]
    if m.role != "assistant":
        c.report(TOOL_CALLS_MALFORMED, f"{m.here} has `tool_calls`; only assistant messages may")
        return
    if not isinstance(calls, list) or not calls:
        c.report(TOOL_CALLS_MALFORMED, f"{m.here} `tool_calls` must be a non-empty list")
        return
    for j, call in enumerate(calls):
        where = f"{m.here} tool_calls[{j}]"
        if (not isinstance(call, dict) or not isinstance(call.get("id"), str) or not call["id"]
                or call.get("type") != "function"):
            c.report(TOOL_CALLS_MALFORMED, f"{where} must have a string `id`, \"type\": \"function\" and a `function`")
            continue
        c.call_ids.add(call["id"])
        c.info.plain.append(call["id"])
        _check_arguments(f"{where}.function", call.get("function"), c.report, c.info, m.calls_trained)


def _check_function_call(m: _Message, c: _Context) -> None:
    if "function_call" not in m.msg:
        return
    if m.role != "assistant":
        c.report(TOOL_CALLS_MALFORMED, f"{m.here} has `function_call`; only assistant messages may")
    else:
        _check_arguments(f"{m.here} function_call", m.msg["function_call"], c.report, c.info, m.calls_trained)


def _check_tool_call_id(m: _Message, c: _Context) -> None:
    """A tool message answers a call an earlier assistant message made; no other message has a call id."""
    if "tool_call_id" in m.msg and m.role != "tool":
        c.report(MESSAGE_UNRECOGNIZED_KEY, f"{m.here} has `tool_call_id`; only tool messages may")
    if m.role != "tool":
        return
    tcid = m.msg.get("tool_call_id")
    if not isinstance(tcid, str) or not tcid:
        c.report(TOOL_MESSAGE_MISSING_ID, f"{m.here} needs a string `tool_call_id` naming the assistant tool "
                                          "call it answers")
    elif tcid not in c.call_ids:
        c.report(TOOL_MESSAGE_MISSING_ID, f"{m.here} answers tool_call_id {tcid!r}, which no earlier assistant "
                                          "tool call in this example made")
    else:
        c.info.plain.append(tcid)


def _check_content(m: _Message, c: _Context) -> None:
    if "content" not in m.msg:
        return
    content, role, info = m.msg["content"], m.role, c.info
    answer_with_calls = role == "assistant" and m.has_calls
    if isinstance(content, str):
        if not content and not answer_with_calls:
            c.report(MISSING_CONTENT, f"{m.here} has empty content")
        elif role == "assistant" and m.trained:
            info.trained.append(content)
        else:
            (info.shared if role == "system" else info.plain).append(content)
    elif content is None:
        if not answer_with_calls:
            c.report(MISSING_CONTENT, f"{m.here} has null content (only an assistant message with tool_calls may)")
    elif isinstance(content, list):
        if not content:
            c.report(MISSING_CONTENT, f"{m.here} has an empty content list")
        elif role in ROLES:
            _check_content_parts(m.here, role, content, c.report, info, role == "assistant" and m.trained)
    else:
        c.report(MISSING_CONTENT, f"{m.here} content must be a string or a list of parts, got {_type(content)}")


def _note_role(m: _Message, c: _Context) -> None:
    """What the example-level checks need: which roles it has, and its first system message."""
    info = c.info
    if m.role == "system":
        info.has_system = True
        if info.system_text is None:
            content = m.msg.get("content")
            info.system_text = content if isinstance(content, str) else json.dumps(content, sort_keys=True)
    elif m.role == "user":
        info.has_user = True
    elif m.role == "assistant":
        info.has_assistant = True


# The checks of a message off the fast path, in the order their problems are reported.
MESSAGE_CHECKS: tuple[Callable[[_Message, _Context], None], ...] = (
    _check_keys, _check_role, _check_has_content, _check_weight, _check_name, _check_tool_calls,
    _check_function_call, _check_tool_call_id, _check_content, _note_role,
)


def _legacy(obj: dict[str, Any], report: Report) -> bool:
    """A ``prompt``/``completion`` line: say what it is and how to write it for a chat model."""
    if "prompt" not in obj and "completion" not in obj:
        return False
    report(LEGACY_PROMPT_COMPLETION,
           "this is the legacy prompt/completion format (babbage-002 and davinci-002, whose fine-tuning is retired); "
           "chat models train on messages: write the line as {\"messages\": [{\"role\": \"user\", \"content\": "
           "<prompt>}, {\"role\": \"assistant\", \"content\": <completion>}]} (optionally with a system message first)")
    return True


def _too_many_images(info: ExampleInfo, report: Report) -> None:
    report(TOO_MANY_IMAGES, f"{info.image_parts} images in one example; Azure takes at most "
                            f"{MAX_IMAGES_PER_EXAMPLE} per example")


def check_example(obj: Any, report: Report, role_tokens: dict[str, int] | None = None) -> ExampleInfo | None:
    """Check one parsed line of supervised (chat) data; report every problem; return what the counters need.

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
        if "messages" not in obj and "input" in obj and ("preferred_output" in obj or "non_preferred_output" in obj):
            report(FORMAT_MISMATCH, "this is a preference (DPO) example (`input`, `preferred_output`, "
                                    "`non_preferred_output`); check it with --method dpo and train it with "
                                    "method {\"type\": \"dpo\"}")
            return None
        if "messages" not in obj and _legacy(obj, report):
            return None
        got = "missing" if "messages" not in obj else f"{_type(messages)}{' (empty)' if messages == [] else ''}"
        report(MISSING_MESSAGES_LIST, f"`messages` must be a non-empty list of messages, got {got}")
        return None
    info = ExampleInfo()
    if "tools" in obj or "functions" in obj:
        _check_tools(obj, report, info)
    _check_messages(messages, report, info, role_tokens, set())
    if not info.has_assistant:
        report(EXAMPLE_MISSING_ASSISTANT_MESSAGE, "the example has no assistant message, so there is "
                                                  "nothing to learn; add the answer you want")
    if info.image_parts > MAX_IMAGES_PER_EXAMPLE:
        _too_many_images(info, report)
    return info


def check_preference_example(obj: Any, report: Report,
                             role_tokens: dict[str, int] | None = None) -> ExampleInfo | None:
    """Check one line of DPO data (how-to/fine-tuning-direct-preference-optimization.md): ``input`` with the
    conversation (``messages``, optional ``tools`` and ``parallel_tool_calls``), then ``preferred_output`` and
    ``non_preferred_output``, each a list of assistant (and tool) messages with at least one assistant message.
    The output messages are what is trained; the messages themselves follow the supervised rules."""
    if not isinstance(obj, dict):
        report(DATA_TYPE, "each line must be a JSON object with `input`, `preferred_output` and "
                          f"`non_preferred_output`, got {_type(obj)}")
        return None
    if "input" not in obj:
        if "messages" in obj:
            report(FORMAT_MISMATCH, "this is a supervised (chat) example (`messages`); DPO needs `input` "
                                    "{\"messages\": [...]}, `preferred_output` [...] and `non_preferred_output` "
                                    "[...]: check it without --method dpo, or rewrite it as a preference pair")
            return None
        if _legacy(obj, report):
            return None
    inp = obj.get("input")
    if not isinstance(inp, dict) or not isinstance(inp.get("messages"), list) or not inp["messages"]:
        got = "missing" if "input" not in obj else _type(inp) if not isinstance(inp, dict) else \
            "an object without a non-empty `messages` list"
        report(MISSING_INPUT, f"`input` must be an object with a non-empty `messages` list (the system and user "
                              f"messages the outputs answer), got {got}")
        return None
    for where, keys, allowed in (("the line", obj, PREFERENCE_KEYS), ("`input`", inp, INPUT_KEYS)):
        unknown = sorted(k for k in keys if k not in allowed)
        if unknown:
            report(UNRECOGNIZED_KEY, f"{where} has unrecognized key(s) {', '.join(map(repr, unknown))}; "
                                     f"allowed: {', '.join(sorted(allowed))}")
    if "parallel_tool_calls" in inp and not isinstance(inp["parallel_tool_calls"], bool):
        report(UNRECOGNIZED_KEY, f"`input.parallel_tool_calls` must be true or false, "
                                 f"got {_type(inp['parallel_tool_calls'])}")
    info = ExampleInfo()
    if "tools" in inp or "functions" in inp:
        _check_tools(inp, report, info)
    call_ids: set[str] = set()
    _check_messages(inp["messages"], report, info, role_tokens, call_ids, label="input message", train=False)
    if not info.has_user:
        report(INPUT_MISSING_USER, "`input.messages` has no user message; the outputs must answer one")
    info.has_assistant = False
    for key in ("preferred_output", "non_preferred_output"):
        out = obj.get(key)
        if not isinstance(out, list) or not out:
            got = "missing" if key not in obj else f"{_type(out)}{' (empty)' if out == [] else ''}"
            report(MISSING_OUTPUT, f"`{key}` must be a non-empty list of assistant messages, got {got}")
            continue
        before = info.has_assistant
        info.has_assistant = False
        _check_messages(out, report, info, role_tokens, set(call_ids), label=f"{key} message",
                        roles=OUTPUT_ROLES)
        if not info.has_assistant:
            report(INVALID_OUTPUT_ROLE, f"`{key}` has no assistant message; each output needs at least one")
        info.has_assistant = before or info.has_assistant
    if isinstance(obj.get("preferred_output"), list) and obj.get("preferred_output") == obj.get("non_preferred_output"):
        report(IDENTICAL_OUTPUTS, "`preferred_output` and `non_preferred_output` are the same, so this pair "
                                  "teaches nothing; make the preferred answer the better one")
    if info.image_parts > MAX_IMAGES_PER_EXAMPLE:
        _too_many_images(info, report)
    return info
