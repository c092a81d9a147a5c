"""Post-processing of generated videos: each step a plain function, no Prefect.

    step            function                              default output beside the input
    poster          poster(video, dest, at_seconds)       <stem>.poster.jpg
                    (probed_poster(video, info, …) when the video is probed already)
    preview         preview(video, dest, fmt=gif|webp)    <stem>.preview.gif / .preview.webp
    web             web_transcode(video, dest, crf, …)    <stem>.web.mp4
    loudnorm        loudnorm(video, dest, target_lufs, …) <stem>.loudnorm.mp4
    contact-sheet   contact_sheet(video, dest, …)         <stem>.sheet.jpg
    (storyboards)   concat(videos, dest, …)               dest
    (reports)       measure_loudness(path) -> LUFS

ffmpeg is the binary from imageio-ffmpeg (`seedance.ffmpeg`), probing is PyAV (`seedance.media`).
Every output is written to a temporary sibling and renamed into place. Every failure is a
`PostprocessError` naming the step, with ffmpeg's last lines of stderr when ffmpeg failed.
"""

from seedance.postprocess._common import PostprocessError
from seedance.postprocess.encode import concat, web_transcode
from seedance.postprocess.frames import PreviewFormat, contact_sheet, poster, preview, probed_poster
from seedance.postprocess.loudness import LoudnormMeasurement, loudnorm, measure_loudness
from seedance.postprocess.steps import STEP_OPTIONS, STEPS, VIDEO_STEPS, PostprocessStep, StepOptions

__all__ = [
    "STEPS",
    "STEP_OPTIONS",
    "VIDEO_STEPS",
    "LoudnormMeasurement",
    "PostprocessError",
    "PostprocessStep",
    "PreviewFormat",
    "StepOptions",
    "concat",
    "contact_sheet",
    "loudnorm",
    "measure_loudness",
    "poster",
    "preview",
    "probed_poster",
    "web_transcode",
]
