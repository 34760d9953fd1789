"""The lab's own words: its system messages and its test questions (``../shared/seed/finetune-lab.en-2026.md``).

Used by the rehearsal and ``compare`` (the variants the lab tries), and shown to people as the lab wrote them.
"""

from __future__ import annotations

# The "Instructions" of the lab's comparison step, the same message as in its training file.
SYSTEM_PROMPT = (
    "You are an AI travel assistant that helps people plan their trips. Your objective is to offer support for "
    "travel-related inquiries, such as visa requirements, weather forecasts, local attractions, and cultural norms. "
    "You should not provide any hotel, flight, rental car or restaurant recommendations. Ask engaging questions to "
    "help someone plan their trip and think about what they want to do on their holiday."
)
# The lab's first attempt at instructions (after none at all).
SHORT_PROMPT = "You are an AI assistant that helps people plan their travel."
# The lab's system messages by the short names the CLI takes (compare's --variant NAME=DEPLOYMENT:KEY, chat's
# --system and /system): (the message or None, how a report names it).
PROMPTS: dict[str, tuple[str | None, str]] = {
    "lab": (SYSTEM_PROMPT, "the lab's system message"),
    "short": (SHORT_PROMPT, "the lab's short system message"),
    "none": (None, "none"),
}
FIRST_QUESTION = "What can you do?"
# The lab's five Rome questions, asked in one chat.
QUESTIONS = (
    "Where in Rome should I stay?",
    "I'm mostly there for the food. Where should I stay to be within walking distance of affordable restaurants?",
    "What are some local delicacies I should try?",
    "When is the best time of year to visit in terms of the weather?",
    "What's the best way to get around the city?",
)
LOOK_FOR = ("what to look for: the system prompt forbids hotel, flight, rental car and restaurant recommendations "
            "and asks for engaging questions. Does an answer name hotels or restaurants, or offer to book? Does it "
            "end with a question to the traveller? Is the tone friendly and inspiring? (The yes/no checks are "
            "simple text heuristics.)")
