"""Script every endpoint of the demo suite with gradio_client.

python app.py --stand-ins tiny &          # or plain `python app.py` for the real models
python clients/every_endpoint.py http://127.0.0.1:7860/
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gradio_client import Client, handle_file

EXAMPLES = Path(__file__).resolve().parent.parent / "demos" / "examples"
PHOTO = EXAMPLES / "coffee.jpg"


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

    # Extractive QA: the answer is context[start:end]; top_k alternatives come in the table, scores to 4 significant
    # digits as the page shows them.
    context = "I searched the car and the garden. In the end my daughter found the keys in the fruit bowl."
    highlighted, score, answers, status = client.predict(context, "Where were the keys?", 3, api_name="/qa")
    best, _, start, end = answers["data"][0]
    assert context[int(start) : int(end)] == best
    print("qa:", repr(best), score)
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

    # Next-token odds: the raw distribution and the one sampling draws from after temperature, top_k and top_p.
    _plot, odds, status = client.predict(
        "Hello, I'm a language model,", api_name="/next_token", temperature=0.8, top_k=5, top_p=0.95
    )
    print("next_token:", [(t["token"], round(t["probability_after_settings"], 3)) for t in odds["tokens"][:5]])
    results["next_token"] = odds

    # Tokens: up to three tokenizers side by side (each as highlighted text), their numbers, and ids back to text.
    *_highlights, numbers, comparison, status = client.predict(
        "Ciao mi chiamo Mattia", ["google-bert/bert-base-cased", "openai-community/gpt2"], api_name="/tokens"
    )
    first = numbers["tokenizers"][0]
    print("tokens:", [(item["model"], item["counts"]["tokens"]) for item in numbers["tokenizers"]])
    with_special, without_special, _decoded, status = client.predict(
        first["model"], ", ".join(map(str, first["ids"])), api_name="/decode_ids"
    )
    print("decode_ids:", repr(without_special))
    results["tokens"], results["decoded"] = numbers, without_special

    # Fill the blank: [MASK], <mask> or ___ all work; the table holds each filler with its probability.
    _plot, fillers, status = client.predict("The boys [MASK] shy.", api_name="/fill_mask", top_k=5)
    print("fill_mask:", [row[2:5] for row in fillers["data"]])
    results["fill_mask"] = fillers

    # Embeddings: the word's contextual vectors compared across sentences (cosine matrix), and semantic search.
    _plot, similarity, status = client.predict(
        "bank", "We went to the river bank.\nI need to go to the bank to make a deposit.", api_name="/embeddings"
    )
    print("embeddings:", similarity["labels"], similarity["matrix"])
    _plot, search, status = client.predict(
        "How do I open a savings account?",
        "We went to the river bank.\nI need to go to the bank to make a deposit.",
        api_name="/semantic_search",
    )
    print("semantic_search:", [(item["sentence"], round(item["similarity"], 3)) for item in search["ranking"]])
    results["embeddings"], results["semantic_search"] = similarity, search

    # Attention: one layer and head (0 = average), a second sentence to compare, and where a focus word looks.
    _heatmap, _bars, attention, status = client.predict(
        "Time flies like an arrow.",
        "Fruit flies like bananas.",
        "flies",
        api_name="/attention",
        layer=1,
        head=0,
    )
    print("attention:", [(item["tokens"], item["focus"]["row"]) for item in attention["sentences"]])
    results["attention"] = attention

    # Attention from scratch: dot products of the input vectors, ÷ √d, a softmax per row; every number as JSON.
    _steps, _weights, _pca, _comparison, steps, status = client.predict(
        "Time flies like an arrow.", "Fruit flies like bananas.", "flies", api_name="/attention_steps"
    )
    print("attention_steps:", [(item["tokens"], item["weights"][1]) for item in steps["sentences"]])
    results["attention_steps"] = steps

    # A classifier opened up: tokens and ids, logits, softmax, label; here the Spanish model (NEG / NEU / POS).
    *_tables, _label, _explanation, values, status = client.predict(
        "¡Qué película tan bonita!", "pysentimiento/robertuito-sentiment-analysis", api_name="/pipeline_steps"
    )
    print("pipeline_steps:", values["tokens"], dict(zip(values["labels"], values["probabilities"], strict=True)))
    results["pipeline_steps"] = values

    # Evaluate on your data: a labelled CSV in, accuracy and the confusion matrix out, with every prediction as CSV.
    summary, _per_label, _plot, _missed, predictions_csv, metrics, status = client.predict(
        handle_file(str(EXAMPLES / "reviews.csv")),
        "text",  # text column
        "label",  # label column
        "POSITIVE=pos, NEGATIVE=neg",  # the model's labels read as the file's
        api_name="/evaluate",
    )
    print("evaluate:", summary, metrics["labels"], metrics["confusion"], "predictions:", predictions_csv)
    results["evaluate"] = metrics

    # Train a classifier: labelled sentences -> MiniLM vectors -> logistic regression, kept for this client's session.
    summary, _scatter, _counts, trained, status = client.predict(
        "sports: The striker scored twice.\nsports: She won the marathon.\nsports: The referee showed a red card.\n"
        "cooking: Fry the onions until golden.\ncooking: Add salt to the water.\ncooking: Bake the cake for an hour.",
        None,  # or handle_file("examples.csv") with text and label columns
        api_name="/train_classifier",
    )
    best, predictions, status = client.predict("The goalkeeper saved a penalty.", api_name="/classify_sentences")
    print("train_classifier:", round(trained["cv_accuracy"], 3), "->", best["label"])
    results["train_classifier"], results["classify_sentences"] = trained, predictions

    # What the server holds: device, models in memory, their size, load times and hits.
    device, models = client.predict(api_name="/system")
    print("system:", [row[:2] for row in models["data"]])
    results["system"] = models
    return results


if __name__ == "__main__":
    main(*sys.argv[1:2])
