"""Script every endpoint of the demo suite with gradio_client.

python app.py --stand-ins tiny &          # or plain `python app.py` for the real models
python clients/every_endpoint.py http://127.0.0.1:7860/
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gradio_client import Client, handle_file

PHOTO = Path(__file__).resolve().parent.parent / "demos" / "examples" / "coffee.jpg"


def main(url: str = "http://127.0.0.1:7860/", auth: tuple[str, str] | None = None) -> dict:
    client = Client(url, auth=auth, verbose=False)
    results = {}

    # Sentiment: one text per line; the label is the first line's, the table has a row per line.
    label, table, status = client.predict("I loved this film.\nThe ending was a letdown.", api_name="/sentiment")
    print("sentiment:", label["label"], [row[:2] for row in table["data"]])
    results["sentiment"] = label

    # Zero-shot: comma-separated labels; single-label scores share out 1.
    scores, status = client.predict(
        "The striker scored twice in the final minutes.",
        "sports, politics, cooking",
        False,  # multi_label
        "This example is about {}.",
        api_name="/zero_shot",
    )
    print("zero_shot:", [(entry["label"], round(entry["confidence"], 3)) for entry in scores["confidences"]])
    results["zero_shot"] = scores

    # Extractive QA: the answer is context[start:end]; top_k alternatives come in the table.
    context = "I searched the car and the garden. In the end my daughter found the keys in the fruit bowl."
    highlighted, score, answers, status = client.predict(context, "Where were the keys?", 3, api_name="/qa")
    best, _, start, end = answers["data"][0]
    assert context[int(start) : int(end)] == best
    print("qa:", repr(best), round(score, 3))
    results["qa"] = answers

    # Text generation, streamed: submit() returns a job whose outputs grow token by token.
    job = client.submit(
        "Hello, I'm a language model,",
        api_name="/generate",
        strategy="sampling",
        max_new_tokens=20,
        seed=42,  # the same seed gives the same text
    )
    for text, _status in job:
        print("generate (so far):", repr(text[-40:]))
    streamed = [text for text, _status in job.outputs()]
    print("generate:", repr(streamed[-1]))
    results["generate"] = streamed

    # Beam search returns its beams whole.
    text, status = client.predict(
        "The best thing about teaching is",
        api_name="/generate",
        strategy="beam search",
        max_new_tokens=10,
        num_beams=4,
        num_return_sequences=2,
    )
    print("generate (beams):", repr(text))
    results["beams"] = text

    # Panoptic segmentation: upload a photo with handle_file; one mask file per segment, a table, and two
    # downloads: the photo with the masks painted on (PNG) and every segment with its mask as COCO RLE (JSON).
    annotated, table, status, overlay_png, segments_json = client.predict(
        handle_file(str(PHOTO)), 0.85, 0.8, api_name="/segment"
    )
    segments = json.loads(Path(segments_json).read_text())["segments"]
    print("segment:", table["data"], "overlay:", overlay_png)
    print("segment (JSON):", [(item["label"], item["mask"]["size"]) for item in segments])
    results["segment"] = table
    results["segment_json"] = segments

    # What the server holds: device, models in memory, their size, load times and hits.
    device, models = client.predict(api_name="/system")
    print("system:", [row[:2] for row in models["data"]])
    results["system"] = models
    return results


if __name__ == "__main__":
    main(*sys.argv[1:2])
