"""The words the procedural painter reads (five languages, accents stripped), and those it
knows are no subject of a picture; what is left of a prompt it could not paint."""

from __future__ import annotations

import re
import unicodedata

# "group.value:" then its words, accents stripped. Within a group the first match wins.
_VOCABULARY = """
colour.red: red scarlet crimson rouge rouges rosso rossa rossi rojo roja rojos rot rote roten
colour.orange: orange oranges arancione arancio naranja anaranjado
colour.yellow: yellow golden gold jaune dore doree giallo gialla oro amarillo amarilla gelb gelbe
colour.green: green vert verte verts verde verdi grun grune grunen
colour.blue: blue azure bleu bleue bleus blu azzurro azzurra azul azules blau blaue blauen
colour.purple: purple violet violette viola morado morada purpura lila lilla purpur
colour.pink: pink rose roses rosa rosado rosada
colour.grey: grey gray gris grise grigio grigia grau graue
colour.white: white blanc blanche bianco bianca blanco blanca weiss weisse
colour.black: black dark noir noire nero nera negro negra schwarz schwarze dunkel
time.night: night nights midnight moon moonlight starry stars star nocturnal nuit minuit lune
  etoile etoiles notte mezzanotte luna stella stelle noche medianoche estrella estrellas nacht
  mitternacht mond stern sterne
time.sunset: sunset sundown dusk evening twilight coucher crepuscule soir soiree tramonto
  crepuscolo sera atardecer ocaso anochecer tarde sonnenuntergang abend abendrot dammerung
time.sunrise: sunrise dawn morning daybreak aube aurore lever matin alba aurora mattina mattino
  amanecer madrugada manana sonnenaufgang morgen morgenrot
time.day: day daytime noon sun sunny sunshine jour midi soleil ensoleille giorno mezzogiorno sole
  soleggiato dia mediodia sol soleado tag mittag sonne sonnig
weather.storm: storm stormy thunder thunderstorm lightning tempest rain rainy orage orageux tempete
  tonnerre eclair pluie temporale tempesta tuono fulmine pioggia tormenta tempestad trueno rayo
  lluvia gewitter sturm donner blitz regen
weather.snow: snow snowy winter ice frost frozen neige enneige hiver glace gel neve nevoso inverno
  ghiaccio nieve nevado invierno hielo schnee verschneit eis
ground.sea: sea seas ocean waves wave beach coast shore lake harbour harbor bay mer vague vagues
  plage cote lac port mare oceano onda onde spiaggia costa lago porto mar olas ola playa meer ozean
  welle wellen strand kuste hafen
ground.desert: desert dunes dune sand sahara sable deserto sabbia duna desierto arena wuste
ground.hills: hills hill meadow meadows field fields colline collines prairie champ champs collina
  prato campo campi colina colinas pradera hugel wiese feld felder
ground.forest: forest forests woods wood jungle pine pines foret bois sapin sapins bosco foresta
  pino pini bosque selva pinos wald walder kiefer tanne
feature.mountains: mountain mountains peak peaks alps summit montagne montagnes sommet alpes
  montagna monte vetta alpi montana montanas pico picos cumbre berg berge gebirge gipfel alpen
feature.lighthouse: lighthouse lighthouses phare phares faro fari faros leuchtturm
feature.tree: tree trees arbre arbres albero alberi arbol arboles baum baume
"""

# Words that ask for nothing the painter leaves out: articles, prepositions, styles and requests,
# and what every picture has (a sky). Any other word names a subject it cannot paint (a cat).
_NOT_SUBJECT_WORDS = """
a an the of and or with without in on at by for to from over under near beside behind above below
into onto across through is are be this that these those my your his her its our their some any very
so too really beautiful pretty nice lovely big small little tiny huge large tall old new bright soft
calm quiet peaceful wild cute cool epic amazing simple picture pictures image images photo photos
painting paintings drawing drawings draw paint painted sketch render illustration art artwork style
watercolour watercolor watercolours oil pencil digital realistic photorealistic colourful colorful
me please can you could would make show give create generate something anything landscape landscapes
scene scenery view sky skies cloud clouds cloudy horizon light lights
un une le la les des de du et avec sans dans sur au aux en pour par sous pres tres beau belle bel
joli jolie jolis petit petite grand grande dessin peinture dessine peins fais moi sil plait paysage
ciel nuage nuages quelque chose
uno il lo gli di del della dello e con senza su al alla allo per da sotto molto bello bella piccolo
piccola immagine disegno dipinto disegna dipingi fammi paesaggio cielo nuvola nuvole qualcosa
el los las y sin sobre para por bajo muy bonito bonita hermoso hermosa pequeno pequena imagen
dibujo pintura dibuja pinta hazme paisaje nube nubes algo
ein eine einen einem einer der die das den dem des und mit ohne im auf am an fur von unter sehr
schon schone schonen kleine kleiner gross grosse grossen bild zeichnung gemalde zeichne male mal
mir bitte landschaft himmel wolke wolken etwas
"""
_NOT_SUBJECTS = frozenset(_NOT_SUBJECT_WORDS.split())

VOCABULARY: dict[str, dict[str, frozenset[str]]] = {}
for _entry in re.split(r"\n(?=\S)", _VOCABULARY.strip()):
    _group, _value, _words = re.split(r"[.:]", _entry, maxsplit=2)
    VOCABULARY.setdefault(_group, {})[_value] = frozenset(_words.split())


def normalise_prompt(prompt: str) -> str:
    """Lower-case, accents removed, words joined by one space: the key that seeds the picture."""
    text = unicodedata.normalize("NFKD", prompt.casefold().replace("ß", "ss"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.findall(r"\w+", text))


def unpaintable(prompt: str) -> list[str]:
    """The words of the prompt that name something the painter has no brush for, in order:
    what the caption must own up to rather than silently paint hills instead."""
    known = set().union(*(ws for group in VOCABULARY.values() for ws in group.values()))
    found: list[str] = []
    for word in normalise_prompt(prompt).split():
        if word in known or word in _NOT_SUBJECTS or word.isdigit() or len(word) < 3:
            continue
        if word not in found:
            found.append(word)
    return found
