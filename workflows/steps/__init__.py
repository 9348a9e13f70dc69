"""One handler per step type. To find the code of a step type, look it up in HANDLERS."""

from workflows.steps.effects import notify, send, update_profile
from workflows.steps.flow import branch, exit_step, split, wait, wait_for_event
from workflows.steps.inference import classify_intent, generate_copy, retrieve, score
from workflows.steps.review import human_review

HANDLERS = {
    "classify_intent": classify_intent,
    "score": score,
    "retrieve": retrieve,
    "generate_copy": generate_copy,
    "human_review": human_review,  # takes the visit number too
    "send": send,
    "branch": branch,
    "split": split,
    "wait": wait,
    "wait_for_event": wait_for_event,
    "update_profile": update_profile,
    "notify": notify,
    "exit": exit_step,
}
