"""The fine-tuning loss: trl's SFTTrainer with the loss from the answer positions only."""

from __future__ import annotations


def completion_loss_trainer_class():
    """trl's SFTTrainer with the loss computed from the completion positions' logits only.

    The answer is a few tokens at the end of a 50-300-token prompt; the LM head over
    Gemma 3's 262k-token vocabulary at every prompt position (and trl's entropy and
    accuracy metrics over them) would cost most of a step for nothing. `logits_to_keep`
    asks the model for the logits of the batch's last positions, from the earliest
    completion token on; the loss is the same token-mean cross-entropy.
    """
    import torch
    import torch.nn.functional as F
    from trl import SFTTrainer

    class CompletionLossTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs["labels"]
            length = labels.shape[1]
            answer = labels != -100
            rows = answer.any(dim=1)
            first = int(answer.float().argmax(dim=1)[rows].min()) if bool(rows.any()) else length
            keep = min(length, max(2, length - first + 1))
            forward = {k: inputs[k] for k in ("input_ids", "attention_mask", "position_ids")
                       if k in inputs}  # fmt: skip
            outputs = model(**forward, use_cache=False, logits_to_keep=keep)
            logits = outputs.logits[:, :-1, :].float()
            target = labels[:, length - keep + 1 :]
            total = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="sum"
            )  # ignore_index -100: the prompt and padding
            count = num_items_in_batch if num_items_in_batch is not None else (target != -100).sum()
            loss = total / torch.as_tensor(count, device=total.device).clamp(min=1)
            return (loss, outputs) if return_outputs else loss

    return CompletionLossTrainer
