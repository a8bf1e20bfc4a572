"""Twenty chat conversations of the project's own for the SmolLM2 greedy goldens: questions,
instructions, code, arithmetic, a custom system prompt and multi-turn exchanges. Each is a list of
{"role", "content"} messages, rendered with the model's chat template (add_generation_prompt)."""


def user(text):
    return [{"role": "user", "content": text}]


CHAT_PROMPTS = [
    user("What is the capital of France?"),
    user("Name three primary colors."),
    user("Write a haiku about the sea."),
    user("Explain what a GPU is in one sentence."),
    user("What is 12 times 7?"),
    user("Write a Python function that returns the square of a number."),
    user("Give me two tips for sleeping better."),
    user("Translate 'good morning' into Spanish."),
    user("Why is the sky blue?"),
    user("List the days of the week."),
    user("What does an inference server do?"),
    user("Summarize the story of Little Red Riding Hood in two sentences."),
    [{"role": "system", "content": "You are a terse assistant. Answer in at most five words."},
     {"role": "user", "content": "What is the largest planet?"}],
    [{"role": "system", "content": "You are a pirate. Always talk like a pirate."},
     {"role": "user", "content": "How are you today?"}],
    [{"role": "user", "content": "Hi! My name is Ada."},
     {"role": "assistant", "content": "Hello Ada! How can I help you today?"},
     {"role": "user", "content": "What is my name?"}],
    [{"role": "user", "content": "What is 2 + 2?"},
     {"role": "assistant", "content": "2 + 2 = 4."},
     {"role": "user", "content": "And if you add 3 more?"}],
    user("Is a tomato a fruit or a vegetable?"),
    user("Write a short email asking a colleague for the meeting notes."),
    user("What is the boiling point of water in Celsius?"),
    user("Suggest a name for a friendly robot."),
]
