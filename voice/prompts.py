"""The fixed things the bot says, synthesized once at start-up and played from memory."""

DEFAULT_PROMPTS = {
    "greeting": "Hello, you've reached customer support. I'm an automated assistant. How can I help you today?",
    "please_hold": "Please hold for a moment.",
    "handoff": "I'm connecting you with a member of our team now. They'll have the details of our conversation.",
    "goodbye": "Thank you for calling. Goodbye.",
    "no_match": "Sorry, I didn't catch that. Could you say it again?",
}
