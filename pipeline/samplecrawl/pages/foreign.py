"""Non-English pages: a French science article served as ISO-8859-1 (so extractors must honour
the declared charset) and a German travel piece in UTF-8. Both written for the project.
"""

from __future__ import annotations

from pipeline.samplecrawl import chrome as c
from pipeline.samplecrawl.model import Draft, Page
from pipeline.samplecrawl.sites import SCIENCES, WANDER, photo

FR = """
En février 1995, la navette spatiale Discovery décollait de Floride avec, aux commandes, une pilote dont le nom allait entrer dans l'histoire. Eileen Collins devenait ce jour-là la première femme à piloter une navette américaine, après des années passées comme instructrice de vol et pilote d'essai dans l'armée de l'air.

Quatre ans plus tard, en juillet 1999, elle franchissait une nouvelle étape en devenant la première femme commandante d'une mission de navette. L'équipage de Columbia avait pour tâche de placer en orbite le télescope Chandra, un observatoire à rayons X qui fonctionne encore aujourd'hui et qui a profondément changé notre connaissance des trous noirs et des restes d'étoiles.

Dans les entretiens qu'elle a donnés depuis, Eileen Collins raconte volontiers qu'elle rêvait de voler depuis l'enfance, lorsqu'elle regardait les planeurs depuis une colline près de chez elle. Elle insiste aussi sur le travail d'équipe : une mission spatiale, dit-elle, repose sur des milliers de personnes au sol dont le public ne connaît jamais le nom.

Sa carrière a ouvert la voie à de nombreuses astronautes. Aujourd'hui, les femmes commandent régulièrement des missions vers la Station spatiale internationale, et plusieurs agences spatiales préparent des équipages mixtes pour les prochains voyages autour de la Lune. Le portrait officiel de la NASA, où elle pose en combinaison de vol devant le drapeau, reste l'une des images les plus reproduites de l'histoire du programme.
"""

DE = """
Wer in Wien ein Kaffeehaus betritt, bestellt nicht einfach einen Kaffee. Man wählt zwischen einer Melange, einem kleinen Braunen, einem Einspänner oder einem Verlängerten, und der Kellner im schwarzen Anzug erwartet, dass man den Unterschied kennt. Dazu wird immer ein Glas Wasser serviert, das ohne Nachfrage nachgefüllt wird.

Die Wiener Kaffeehauskultur gehört seit 2011 zum immateriellen Kulturerbe Österreichs. Gemeint ist damit nicht nur das Getränk, sondern eine ganze Lebensart: Man darf stundenlang an einem Marmortisch sitzen, Zeitung lesen, schreiben oder einfach nachdenken, ohne dass jemand zum Gehen drängt. Viele Schriftsteller haben ihre Bücher in solchen Cafés geschrieben.

Bei unserem Besuch im Herbst haben wir drei traditionsreiche Häuser ausprobiert. Im ersten beeindruckten die hohen Decken und die alten Kronleuchter, im zweiten der hausgemachte Apfelstrudel und im dritten die Ruhe, die man mitten in der Innenstadt kaum erwarten würde. Überall war der Service freundlich, wenn auch auf eine sehr wienerische Art knapp.

Unser Tipp: Kommen Sie am späten Vormittag, wenn die Frühstücksgäste gegangen sind und die Mittagsgäste noch nicht da sind. Nehmen Sie sich Zeit, bestellen Sie eine Melange und ein Stück Kuchen, und lassen Sie das Telefon in der Tasche. Genau dafür sind diese Orte gemacht.
"""


def _french() -> Page:
    d = Draft(SCIENCES, "/espace/eileen-collins-premiere-femme-commandant-navette")
    img = photo(SCIENCES.origin + "/images/2024/eileen-collins-portrait.jpg", "astronaut",
                width=512, quality=82)
    main = ("<article><h1>Eileen Collins, la première femme aux commandes d'une navette</h1>"
            '<p class="chapo">Retour sur une carrière qui a ouvert la voie aux astronautes '
            "d'aujourd'hui.</p>"
            + c.figure(d, img, "Portrait officiel d'Eileen Collins (NASA).") + c.paragraphs(FR)
            + "</article>" + c.share_buttons(d))
    return c.page(d, "Eileen Collins, première femme commandant de navette", main,
                  layout="news", lang="fr", charset="iso-8859-1",
                  sidebar=c.related([("/espace/", "Toute l'actualité de l'espace")], "À lire"))


def _german() -> Page:
    d = Draft(WANDER, "/de/kultur/wiener-kaffeehauskultur")
    img = photo(WANDER.origin + "/bilder/wien-melange.webp", "coffee", (0.1, 0.0, 0.9, 1.0), 560,
                "WEBP", 78)
    main = ("<article><h1>Zu Gast im Wiener Kaffeehaus</h1>"
            + c.picture(d, img, photo(WANDER.origin + "/bilder/wien-melange.jpg", "coffee",
                                      (0.1, 0.0, 0.9, 1.0), 560), "Eine Melange auf dem "
                        "Marmortisch", "Eine Melange, wie sie in Wien serviert wird.")
            + c.paragraphs(DE) + "</article>")
    return c.page(d, "Zu Gast im Wiener Kaffeehaus", main, layout="blog", lang="de",
                  sidebar=c.related([("/de/reisen/", "Alle Reiseberichte")], "Mehr lesen"))


def pages() -> list[Page]:
    return [_french(), _german()]
