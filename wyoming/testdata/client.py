"""A Wyoming wake-word client built on the upstream library, for the Go tests.

  client.py URI describe
  client.py URI stream WAV [--names a,b] [--cycles N] [--satellite] [--chunk N]

describe prints the info event. stream runs N detection cycles on one connection: detect,
audio-start, the WAV's frames in audio-chunk events, audio-stop (--satellite: detect and
chunks only, as wyoming-satellite sends them), then a ping; it prints every event that
comes back up to the pong as a JSON line {"cycle", "type", "data"}, so that the test sees
exactly what the server answered to each cycle. Extra events before the first cycle:
--before EVENT (audio-chunk, bad-format) sends one bad event first.
"""
import argparse
import asyncio
import json
import sys
import wave

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.wake import Detect


def emit(obj):
    print(json.dumps(obj), flush=True)


async def read_until_pong(client, cycle):
    while True:
        event = await client.read_event()
        if event is None:
            emit({"cycle": cycle, "type": "closed", "data": {}})
            return False
        emit({"cycle": cycle, "type": event.type, "data": event.data})
        if Pong.is_type(event.type):
            return True


async def home_assistant(client, names, rate, width, channels, audio, step):
    """homeassistant/components/wyoming/wake_word.py: stream while reading; the first
    detection whose name was requested ends the run (the connection closes)."""
    await client.write_event(Detect(names=names).event())
    await client.write_event(AudioStart(rate=rate, width=width, channels=channels).event())

    async def send():
        for i in range(0, len(audio), step):
            await client.write_event(AudioChunk(rate=rate, width=width, channels=channels, audio=audio[i:i + step]).event())
            await asyncio.sleep(0)
        await client.write_event(AudioStop().event())

    sender = asyncio.create_task(send())
    while True:
        event = await client.read_event()
        if event is None:
            emit({"cycle": 0, "type": "closed", "data": {}})
            break
        emit({"cycle": 0, "type": event.type, "data": event.data})
        if event.type == "detection" and (not names or event.data.get("name") in names):
            break
        if event.type == "not-detected":
            break
    sender.cancel()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("uri")
    p.add_argument("mode", choices=["describe", "stream"])
    p.add_argument("wav", nargs="?")
    p.add_argument("--names", default="")
    p.add_argument("--cycles", type=int, default=1)
    p.add_argument("--satellite", action="store_true")
    p.add_argument("--chunk", type=int, default=1024, help="frames per audio-chunk")
    p.add_argument("--width", type=int, default=0, help="claim this sample width (a bad format)")
    p.add_argument("--home-assistant", action="store_true",
                   help="as Home Assistant: read while streaming, close at the first detection of a requested name")
    a = p.parse_args()

    async with AsyncClient.from_uri(a.uri) as client:
        if a.mode == "describe":
            await client.write_event(Describe().event())
            event = await client.read_event()
            info = Info.from_event(event)  # parses as Home Assistant would
            emit({"type": event.type, "data": event.data, "programs": [w.name for w in info.wake],
                  "models": [m.name for w in info.wake for m in w.models]})
            return

        with wave.open(a.wav, "rb") as w:
            rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
            audio = w.readframes(w.getnframes())
        claimed = a.width or width
        names = a.names.split(",") if a.names else None
        step = a.chunk * width * channels
        if a.home_assistant:
            await home_assistant(client, names, rate, width, channels, audio, step)
            return
        for cycle in range(a.cycles):
            await client.write_event(Detect(names=names).event())
            if not a.satellite:
                await client.write_event(AudioStart(rate=rate, width=claimed, channels=channels, timestamp=0).event())
            for i in range(0, len(audio), step):
                ms = (i // (width * channels)) * 1000 // rate
                await client.write_event(
                    AudioChunk(rate=rate, width=claimed, channels=channels, audio=audio[i:i + step], timestamp=ms).event())
            if not a.satellite:
                await client.write_event(AudioStop().event())
            await client.write_event(Ping(text="cycle %d" % cycle).event())
            if not await read_until_pong(client, cycle):
                return


asyncio.run(main())
