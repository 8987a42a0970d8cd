"""Real French communes and foreign countries the fictitious population lives in and is born in."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from citizen_graph.sandbox.text import name_key

# Codes are INSEE COG codes (arrondissement codes for Paris, Lyon and Marseille, as BAN uses them);
# centres are approximate. Only the streets are invented.

FRANCE = "99100"


@dataclass(frozen=True, slots=True)
class Commune:
    code: str  # code COG INSEE
    postcode: str
    name: str  # as BAN writes it
    lat: float
    lon: float
    department: str
    department_name: str
    region: str
    weight: int = 1  # share of the households living there
    rural: bool = False  # where MSA (the farmers' welfare fund) files are common
    district: str | None = None

    @property
    def tax_name(self) -> str:
        """The commune as DGFiP and La Poste write it: "CLERMONT FERRAND"."""
        return name_key(self.name)

    @property
    def context(self) -> str:
        return f"{self.department}, {self.department_name}, {self.region}"


@dataclass(frozen=True, slots=True)
class BirthPlace:
    country_code: str  # COG country code, 99100 for France
    commune_code: str | None  # COG commune code, None when born abroad
    name: str  # commune, or country when born abroad, upper case
    department: str  # "99" when born abroad

    @property
    def abroad(self) -> bool:
        return self.country_code != FRANCE


_REGIONS = MappingProxyType(
    {
        "BRE": "Bretagne",
        "ARA": "Auvergne-Rhône-Alpes",
        "IDF": "Île-de-France",
        "PAC": "Provence-Alpes-Côte d'Azur",
        "OCC": "Occitanie",
        "PDL": "Pays de la Loire",
        "GES": "Grand Est",
        "NAQ": "Nouvelle-Aquitaine",
        "HDF": "Hauts-de-France",
        "NOR": "Normandie",
        "BFC": "Bourgogne-Franche-Comté",
        "CVL": "Centre-Val de Loire",
        "COR": "Corse",
    }
)

# code|postcode|name|lat|lon|department|department name|region|weight|rural|district
_COMMUNES = """
35238|35000|Rennes|48.1115|-1.6800|35|Ille-et-Vilaine|BRE|4||
35288|35400|Saint-Malo|48.6493|-2.0257|35|Ille-et-Vilaine|BRE|2||
35360|35500|Vitré|48.1236|-1.2088|35|Ille-et-Vilaine|BRE|1||
69387|69007|Lyon|45.7456|4.8424|69|Rhône|ARA|4||7e
69383|69003|Lyon|45.7596|4.8493|69|Rhône|ARA|3||3e
75115|75015|Paris|48.8421|2.2988|75|Paris|IDF|5||15e
75111|75011|Paris|48.8590|2.3800|75|Paris|IDF|4||11e
75118|75018|Paris|48.8925|2.3444|75|Paris|IDF|4||18e
13208|13008|Marseille|43.2417|5.3746|13|Bouches-du-Rhône|PAC|3||8e
13201|13001|Marseille|43.2999|5.3841|13|Bouches-du-Rhône|PAC|2||1er
31555|31000|Toulouse|43.6045|1.4440|31|Haute-Garonne|OCC|4||
06088|06000|Nice|43.7031|7.2661|06|Alpes-Maritimes|PAC|3||
44109|44000|Nantes|47.2184|-1.5536|44|Loire-Atlantique|PDL|3||
67482|67000|Strasbourg|48.5734|7.7521|67|Bas-Rhin|GES|3||
34172|34000|Montpellier|43.6108|3.8767|34|Hérault|OCC|3||
33063|33000|Bordeaux|44.8378|-0.5792|33|Gironde|NAQ|3||
59350|59000|Lille|50.6292|3.0573|59|Nord|HDF|3||
29019|29200|Brest|48.3904|-4.4861|29|Finistère|BRE|2||
51454|51100|Reims|49.2583|4.0317|51|Marne|GES|2||
76540|76000|Rouen|49.4432|1.0999|76|Seine-Maritime|NOR|2||
14118|14000|Caen|49.1829|-0.3707|14|Calvados|NOR|2||
21231|21000|Dijon|47.3220|5.0415|21|Côte-d'Or|BFC|2||
38185|38000|Grenoble|45.1885|5.7245|38|Isère|ARA|2||
63113|63000|Clermont-Ferrand|45.7772|3.0870|63|Puy-de-Dôme|ARA|2||
87085|87000|Limoges|45.8336|1.2611|87|Haute-Vienne|NAQ|2||
37261|37000|Tours|47.3941|0.6848|37|Indre-et-Loire|CVL|2||
45234|45000|Orléans|47.9030|1.9093|45|Loiret|CVL|2||
49007|49000|Angers|47.4784|-0.5632|49|Maine-et-Loire|PDL|2||
57463|57000|Metz|49.1193|6.1757|57|Moselle|GES|2||
66136|66000|Perpignan|42.6887|2.8948|66|Pyrénées-Orientales|OCC|2||
64445|64000|Pau|43.2951|-0.3708|64|Pyrénées-Atlantiques|NAQ|2||
2A004|20000|Ajaccio|41.9192|8.7386|2A|Corse-du-Sud|COR|1||
15120|15200|Mauriac|45.2186|2.3336|15|Cantal|ARA|1|rural|
15187|15100|Saint-Flour|45.0339|3.0930|15|Cantal|ARA|1|rural|
15014|15000|Aurillac|44.9264|2.4397|15|Cantal|ARA|1|rural|
23096|23000|Guéret|46.1716|1.8717|23|Creuse|NAQ|1|rural|
23008|23200|Aubusson|45.9558|2.1681|23|Creuse|NAQ|1|rural|
48095|48000|Mende|44.5181|3.5007|48|Lozère|OCC|1|rural|
07186|07000|Privas|44.7353|4.5990|07|Ardèche|ARA|1|rural|
46102|46100|Figeac|44.6086|2.0317|46|Lot|OCC|1|rural|
12145|12100|Millau|44.0986|3.0783|12|Aveyron|OCC|1|rural|
19275|19200|Ussel|45.5480|2.3097|19|Corrèze|NAQ|1|rural|
22113|22300|Lannion|48.7326|-3.4566|22|Côtes-d'Armor|BRE|1|rural|
"""


def _commune(line: str) -> Commune:
    code, postcode, name, lat, lon, dept, dept_name, region, weight, rural, district = (
        line.split("|")
    )
    return Commune(
        code, postcode, name, float(lat), float(lon), dept, dept_name, _REGIONS[region],
        int(weight), rural == "rural",
        f"{name} {district} Arrondissement" if district else None,
    )  # fmt: skip


COMMUNES: tuple[Commune, ...] = tuple(
    _commune(line) for line in _COMMUNES.strip().splitlines()
)


def _born_in(code: str, name: str) -> BirthPlace:
    department = code[:3] if code.startswith("97") else code[:2]
    return BirthPlace(FRANCE, code, name, department)


def _born_abroad(code: str, country: str) -> BirthPlace:
    return BirthPlace(code, None, country, "99")


FRENCH_BIRTH_PLACES: tuple[BirthPlace, ...] = tuple(
    _born_in(code, name)
    for code, name in (
        ("35238", "RENNES"), ("69123", "LYON"), ("15014", "AURILLAC"),
        ("75115", "PARIS 15E ARRONDISSEMENT"), ("75111", "PARIS 11E ARRONDISSEMENT"),
        ("75114", "PARIS 14E ARRONDISSEMENT"), ("75118", "PARIS 18E ARRONDISSEMENT"),
        ("13055", "MARSEILLE"), ("31555", "TOULOUSE"), ("06088", "NICE"),
        ("44109", "NANTES"), ("67482", "STRASBOURG"), ("34172", "MONTPELLIER"),
        ("33063", "BORDEAUX"), ("59350", "LILLE"), ("29019", "BREST"),
        ("51454", "REIMS"), ("76351", "LE HAVRE"), ("76540", "ROUEN"),
        ("14118", "CAEN"), ("21231", "DIJON"), ("25056", "BESANCON"),
        ("38185", "GRENOBLE"), ("63113", "CLERMONT FERRAND"), ("87085", "LIMOGES"),
        ("37261", "TOURS"), ("45234", "ORLEANS"), ("49007", "ANGERS"),
        ("72181", "LE MANS"), ("57463", "METZ"), ("54395", "NANCY"),
        ("66136", "PERPIGNAN"), ("64445", "PAU"), ("2A004", "AJACCIO"),
        ("23096", "GUERET"), ("48095", "MENDE"), ("12145", "MILLAU"),
        ("19272", "TULLE"), ("15120", "MAURIAC"), ("35288", "SAINT MALO"),
    )
)  # fmt: skip

FOREIGN_BIRTH_PLACES: tuple[BirthPlace, ...] = tuple(
    _born_abroad(code, country)
    for code, country in (
        ("99134", "ESPAGNE"), ("99350", "MAROC"), ("99109", "ALLEMAGNE"),
        ("99127", "ITALIE"), ("99139", "PORTUGAL"), ("99131", "BELGIQUE"),
        ("99352", "ALGERIE"), ("99351", "TUNISIE"), ("99132", "ROYAUME UNI"),
        ("99140", "SUISSE"), ("99341", "SENEGAL"), ("99243", "VIET NAM"),
    )
)  # fmt: skip


def birth_place(code: str) -> BirthPlace:
    """The French commune or foreign country with this COG code."""
    for place in FRENCH_BIRTH_PLACES:
        if place.commune_code == code:
            return place
    for place in FOREIGN_BIRTH_PLACES:
        if place.country_code == code:
            return place
    raise KeyError(code)


def commune(code: str) -> Commune:
    """The address commune with this COG code."""
    return next(c for c in COMMUNES if c.code == code)
