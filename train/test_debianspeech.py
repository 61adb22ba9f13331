"""Tests of debianspeech.py: the keyword filter and the transcript parsers, on small strings
(no network, no packages).

    /usr/bin/python3 -m unittest discover -s train -p 'test_*.py'
"""

import gzip
import os
import sys
import tempfile
import unittest
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import debianspeech as ds  # noqa: E402


class KeywordFilter(unittest.TestCase):
    def test_whole_words_in_any_case(self):
        for text in ("Alexa, play music", "the COMPUTER is off", "jarvis?", "a Smart Mirror",
                     "SNOWBOY", "a nice view", "a glass of water"):
            self.assertIsNotNone(ds.keyword_in(text), text)

    def test_inside_words(self):
        self.assertEqual(ds.keyword_in("Press 1 to review your messages"), "VIEW")
        self.assertEqual(ds.keyword_in("the computers were minicomputers"), "COMPUTER")
        self.assertEqual(ds.keyword_in("Sunglasses!"), "GLASS")
        self.assertEqual(ds.keyword_in("mirrored"), "MIRROR")
        self.assertEqual(ds.keyword_in("Interview"), "VIEW")

    def test_across_spaces_and_punctuation(self):
        self.assertEqual(ds.keyword_in("a snow boy"), "SNOWBOY")
        self.assertEqual(ds.keyword_in("Snow-Boy"), "SNOWBOY")
        self.assertEqual(ds.keyword_in("vm-review"), "VIEW")
        self.assertEqual(ds.keyword_in("Alex, a friend"), "ALEXA")

    def test_czech_and_dutch(self):
        self.assertEqual(ds.keyword_in("Musíme najít POČÍTAČ."), "POČÍTAČ")
        self.assertEqual(ds.keyword_in("v počítači je"), "POČÍTAČ")
        self.assertEqual(ds.keyword_in("De computer is kapot."), "COMPUTER")

    def test_other_speech_is_kept(self):
        for text in ("Welcome to our city.", "Alex is here", "snow", "a boy", "smart fish",
                     "Vítejte v našem městě", "Welkom in onze stad", "skleněné oko", "", None):
            self.assertIsNone(ds.keyword_in(text), text)


class LuaDialogs(unittest.TestCase):
    def test_english_file(self):
        text = '''
dialogId("vit-hs-klid1", "font_statue", "Citizens, please remain calm.")

dialogId("vit-x-beg", "", "")
dialogId("q-1", "font_big", "He said \\"hi\\" and 'bye'.") -- FIXME spell
-- dialogId("commented", "font_big", "never")
'''
        d = ds.lua_dialogs(text)
        self.assertEqual(d["vit-hs-klid1"], ("Citizens, please remain calm.", None))
        self.assertEqual(d["vit-x-beg"], ("", None))
        self.assertEqual(d["q-1"][0], "He said \"hi\" and 'bye'.")
        self.assertNotIn("commented", d)

    def test_translated_file(self):
        text = '''
dialogLoad("script/"..codename.."/")

dialogId("kd-pocitac", "font_white", "One of your tasks is to find the computer.")
dialogStr("Jedním z úkolů je najít počítač.")

dialogId("m-restartuj", "font_small", "Restart it, right now!")
dialogStr(
"Restartuj to. " .. 'Hned teď!')

dialogId("b2-6", "", "")
dialogStr("")
dialogId("x-1", "font_small", "Miss!")
dialogStr([[Voda!]])
'''
        d = ds.lua_dialogs(text)
        self.assertEqual(d["kd-pocitac"], ("One of your tasks is to find the computer.",
                                           "Jedním z úkolů je najít počítač."))
        self.assertEqual(d["m-restartuj"][1], "Restartuj to. Hned teď!")
        self.assertEqual(d["b2-6"], ("", ""))
        self.assertEqual(d["x-1"][1], "Voda!")

    def test_lines_per_level_and_language(self):
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp)
            (script / "city").mkdir()
            (script / "briefcase").mkdir()
            (script / "city" / "dialogs_en.lua").write_text(
                'dialogId("a", "f", "Hello there.")\ndialogId("fx", "", "")\n')
            (script / "city" / "dialogs_cs.lua").write_text(
                'dialogId("a", "f", "Hello there.")\ndialogStr("Ahoj.")\n'
                'dialogId("fx", "", "")\ndialogStr("")\n', encoding="utf-8")
            (script / "briefcase" / "brief_dialogs_cs.lua").write_text(
                'dialogId("kd", "f", "Find it.")\ndialogStr("Najdi to.")\n', encoding="utf-8")
            (script / "city" / "dialogs_de_CH.lua").write_text('dialogId("a", "f", "x")\ndialogStr("Grüezi")\n')
            self.assertEqual(ds.fillets_lines(script, "en"), {("city", "a"): "Hello there."})
            self.assertEqual(ds.fillets_lines(script, "cs"),
                             {("city", "a"): "Ahoj.", ("briefcase", "kd"): "Najdi to."})
            self.assertEqual(ds.fillets_lines(script, "de"), {})


class AsteriskAndKlettres(unittest.TestCase):
    TXT = """; Core Asterisk Sounds in English

activated: Activated.
agent-pass: Please enter your password followed by the pound key.
beep: [this is a simple beep tone]
letters/at: at [@]
dictate/both_help: press * to toggle pause, press # to enter a new dictation filename
vm-review: Press 1 to accept this recording.  Press 2 to listen to it.
"""

    def test_txt(self):
        lines = ds.asterisk_lines(self.TXT)
        self.assertEqual(len(lines), 6)
        self.assertEqual(lines["activated"], "Activated.")
        self.assertEqual(lines["dictate/both_help"],
                         "press * to toggle pause, press # to enter a new dictation filename")
        self.assertTrue(ds.is_description(lines["beep"]))
        self.assertFalse(ds.is_description(lines["letters/at"]))
        self.assertFalse(ds.is_description(lines["activated"]))
        self.assertFalse(ds.is_description(None))
        # the line decides (nothing in "vm-review" says "review"); the name only without one
        self.assertIsNone(ds.keyword_in(lines["vm-review"]))
        self.assertEqual(ds.keyword_in("vm-review"), "VIEW")
        self.assertEqual(gzip.decompress(gzip.compress(self.TXT.encode())).decode(), self.TXT)

    def test_klettres_xml(self):
        xml = """<!-- comment -->
<klettres><language code="en"><menuitem><label>&amp;English</label></menuitem>
<alphabet><sound name="A" file="en/alpha/A.ogg" /></alphabet>
<syllables><sound name="car" file="en/syllab/car.ogg" /></syllables></language></klettres>"""
        self.assertEqual(ds.klettres_names(xml), {"en/alpha/A.ogg": "A", "en/syllab/car.ogg": "car"})


class Audio(unittest.TestCase):
    def test_trim_and_silence(self):
        sr = ds.SAMPLE_RATE
        x = np.zeros(2 * sr, np.float32)
        x[sr // 2:sr] = 0.3 * np.sin(np.arange(sr // 2) * 0.3)
        y = ds.trim(x)
        self.assertAlmostEqual(len(y) / sr, 0.5 + 2 * ds.TRIM_MARGIN_S, delta=0.03)
        self.assertIsNone(ds.trim(np.full(sr, 1e-4, np.float32)))

    def test_items_only_for_the_cache_manifest(self):
        self.assertEqual(ds.items(out="/nonexistent/elsewhere"), [])

    def test_output_path(self):
        self.assertEqual(str(ds.out_rel("fillets-ng-data-cs", "city/cs/vit-m-hlava.ogg")),
                         "train/speech/debian/fillets-ng-data-cs/city/cs/vit-m-hlava.wav")


if __name__ == "__main__":
    unittest.main()
