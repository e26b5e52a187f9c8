/*
 * test_protocol_fragment.c -- fragments as a Windows client receives them.
 * Groups: 1 Core (shape on all nine real documents, attribute filter, rule
 *           prefixes, exact text of a category), 2 Extended, 3 LocalizedProperties
 *           and Eula, 4 drivers and MSI rules (synthetic, real namespaces),
 *           5 serialisation details (escaping, empty elements, comments,
 *           attribute prefixes).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol.h"

#define DOCS WSUS_SHARED_DIR "/fixtures/update-docs/"

static const char *const doc_names[] = {
	"1f9bd9bb-7390-4aa3-bbdb-ded99fac2583-r200.xml",
	"266f6222-c89d-43f2-9f8a-69340271e677-r200.xml",
	"56309036-4c77-4dd9-951a-99ee9c246a94-r101.xml",
	"6964aab4-c5b5-43bd-a17d-ffb4346a8e1d-r100.xml",
	"7366a74a-ef29-44e1-b738-570b516aca1f-r200.xml",
	"a2fef9b0-7951-4c2c-a42b-9e351dd1c1fe-r200.xml",
	"ccb78947-6453-4ecc-9de8-bc0305c98f2d-r200.xml",
	"dd78b8a1-0b20-45c1-add6-4da72e9364cf-r202.xml",
	"ff36f0b5-dded-4780-8664-cd78af8b62c1-r200.xml",
};

static const char *const core_allowed[] = {
	"UpdateType", "ExplicitlyDeployable", "AutoSelectOnWebSites", "OSUpgrade", "EulaID",
};

static const char *const extended_dropped[] = {
	"UpdateType", "ExplicitlyDeployable", "AutoSelectOnWebSites", "EulaID", "PublicationState",
	"PublisherID", "CreationDate", "IsPublic", "LegacyName", "DetectoidType", "OSUpgrade", "PerUser",
};

static char *load(const char *name, size_t *len)
{
	char path[1024];
	char *buf = NULL;
	struct err e = { 0 };

	snprintf(path, sizeof(path), DOCS "%s", name);
	if (wsus_read_file(path, WSUS_MAX_UPDATE_XML, &buf, len, &e) < 0)
		fail_msg("%s", e.msg);
	return buf;
}

static struct wsus_update *parse_xml(const char *xml, size_t len)
{
	struct wsus_update *u = NULL;
	struct err e = { 0 };

	if (protocol_update_parse(xml, len, &u, &e) < 0)
		fail_msg("%s", e.msg);
	return u;
}

static struct wsus_update *parse_doc(const char *name)
{
	size_t len;
	char *xml = load(name, &len);
	struct wsus_update *u = parse_xml(xml, len);

	free(xml);
	return u;
}

static const struct wsus_fragment *frag(const struct wsus_update *u, enum wsus_fragment_type t,
					const char *locale)
{
	for (size_t i = 0; i < u->n_fragments; i++)
		if (u->fragments[i].type == t &&
		    (locale == NULL || (u->fragments[i].locale && strcmp(u->fragments[i].locale, locale) == 0)))
			return &u->fragments[i];
	return NULL;
}

static size_t count_type(const struct wsus_update *u, enum wsus_fragment_type t)
{
	size_t n = 0;

	for (size_t i = 0; i < u->n_fragments; i++)
		n += u->fragments[i].type == t;
	return n;
}

static size_t count_str(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* A fragment is a run of siblings: wrapped in a dummy root it must parse. */
static xmlDocPtr wrap_parse(const char *fragment)
{
	size_t n = strlen(fragment) + 8;
	char *w = malloc(n);
	struct err e = { 0 };
	xmlDocPtr d;

	assert_non_null(w);
	snprintf(w, n, "<r>%s</r>", fragment);
	d = protocol_xml_parse(w, strlen(w), &e);
	if (d == NULL)
		fail_msg("fragment does not parse when wrapped: %s", e.msg);
	free(w);
	return d;
}

static int in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

/* No element or attribute name keeps a namespace or a prefix. */
static void assert_no_namespaces(const xmlNode *n)
{
	for (; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		assert_null(n->ns);
		assert_null(n->nsDef);
		assert_null(strchr((const char *)n->name, ':'));
		for (const xmlAttr *a = n->properties; a != NULL; a = a->next)
			assert_null(a->ns);
		assert_no_namespaces(n->children);
	}
}

/* Every child element of the document's Properties is in Extended. */
static void assert_children_in_extended(const char *xml, size_t len, const struct wsus_update *u)
{
	const char *ext = frag(u, WSUS_FRAG_EXTENDED, NULL)->xml;
	struct err e = { 0 };
	xmlDocPtr d = protocol_xml_parse(xml, len, &e);
	const xmlNode *p;

	assert_non_null(d);
	for (p = xmlDocGetRootElement(d)->children; p != NULL; p = p->next)
		if (p->type == XML_ELEMENT_NODE && strcmp((const char *)p->name, "Properties") == 0)
			break;
	assert_non_null(p);
	for (const xmlNode *c = p->children; c != NULL; c = c->next) {
		char want[128];

		if (c->type != XML_ELEMENT_NODE)
			continue;
		snprintf(want, sizeof(want), "<%s", (const char *)c->name);
		assert_non_null(strstr(ext, want));
	}
	xmlFreeDoc(d);
}

/* 1.1 Core of every document: siblings UpdateIdentity, Properties, [Relationships],
 *     [ApplicabilityRules]; no namespaces; Properties keeps only the allowed attributes
 *     and no child element, which Extended holds */
static void test_core_shape_all_docs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(doc_names) / sizeof(doc_names[0]); i++) {
		size_t len;
		char *xml = load(doc_names[i], &len);
		struct wsus_update *u = parse_xml(xml, len);
		const struct wsus_fragment *core = frag(u, WSUS_FRAG_CORE, NULL);
		const char *want[4];
		size_t nwant = 0, k = 0;
		xmlDocPtr d;
		const xmlNode *c;

		assert_ptr_equal(core, &u->fragments[0]);
		assert_null(core->locale);
		assert_int_equal(strlen(core->xml), core->len);
		assert_memory_equal(core->xml, "<UpdateIdentity ", 16);
		assert_null(strstr(core->xml, "xmlns"));
		assert_null(strstr(core->xml, "upd:"));
		assert_int_equal(count_type(u, WSUS_FRAG_CORE), 1);
		want[nwant++] = "UpdateIdentity";
		want[nwant++] = "Properties";
		if (strstr(xml, "<upd:Relationships>"))
			want[nwant++] = "Relationships";
		if (strstr(xml, "<upd:ApplicabilityRules>"))
			want[nwant++] = "ApplicabilityRules";

		d = wrap_parse(core->xml);
		assert_no_namespaces(xmlDocGetRootElement(d));
		for (c = xmlDocGetRootElement(d)->children; c != NULL; c = c->next) {
			assert_int_equal(c->type, XML_ELEMENT_NODE); /* no text between parts */
			assert_true(k < nwant);
			assert_string_equal((const char *)c->name, want[k]);
			if (k == 1) {
				for (const xmlAttr *a = c->properties; a != NULL; a = a->next)
					assert_true(in_list(core_allowed, 5, (const char *)a->name));
				assert_null(c->children);
			}
			k++;
		}
		assert_int_equal(k, nwant);
		assert_children_in_extended(xml, len, u);
		xmlFreeDoc(d);
		free(xml);
		wsus_update_free(u);
	}
}

/* 1.2 the category dd78b8a1 gives exactly the Core text a WSUS sends (spec 8.7 shape) */
static void test_core_exact_category(void **state)
{
	struct wsus_update *u = parse_doc("dd78b8a1-0b20-45c1-add6-4da72e9364cf-r202.xml");

	(void)state;
	/* DefaultPropertiesLanguage, PerUser, IsPublic, Handler, PublicationState,
	 * CreationDate and PublisherID are all gone; UpdateType and
	 * ExplicitlyDeployable stay, in document order. */
	assert_string_equal(frag(u, WSUS_FRAG_CORE, NULL)->xml,
		"<UpdateIdentity UpdateID=\"dd78b8a1-0b20-45c1-add6-4da72e9364cf\" RevisionNumber=\"202\" />"
		"<Properties UpdateType=\"Category\" ExplicitlyDeployable=\"false\" />"
		"<Relationships><Prerequisites><AtLeastOne IsCategory=\"true\">"
		"<UpdateIdentity UpdateID=\"6964aab4-c5b5-43bd-a17d-ffb4346a8e1d\" /></AtLeastOne>"
		"</Prerequisites></Relationships>"
		"<ApplicabilityRules><IsInstalled><b.WindowsVersion Comparison=\"GreaterThanOrEqualTo\""
		" MajorVersion=\"6\" MinorVersion=\"3\" ProductType=\"1\" /></IsInstalled></ApplicabilityRules>");
	wsus_update_free(u);
}

/* 1.3 Properties in Core: only the allowed attributes and no child element
 *     (a real WS2025 WSUS sends exactly this); Extended keeps the children */
static void test_core_properties_filtered(void **state)
{
	struct wsus_update *u = parse_doc("a2fef9b0-7951-4c2c-a42b-9e351dd1c1fe-r200.xml");
	const char *core = frag(u, WSUS_FRAG_CORE, NULL)->xml;
	const char *ext = frag(u, WSUS_FRAG_EXTENDED, NULL)->xml;

	(void)state;
	assert_non_null(strstr(core,
		"<Properties UpdateType=\"Software\" AutoSelectOnWebSites=\"true\" ExplicitlyDeployable=\"true\" />"
		"<Relationships><SupersededUpdates>"));
	assert_null(strstr(core, "</Properties>"));
	assert_null(strstr(core, "SupportUrl"));
	assert_null(strstr(core, "KBArticleID"));
	assert_null(strstr(core, "DefaultPropertiesLanguage"));
	assert_null(strstr(core, "CreationDate"));
	assert_null(strstr(core, "PublisherID"));
	assert_null(strstr(core, "PublicationState"));
	assert_null(strstr(core, "MaxDownloadSize"));
	/* LocalizedPropertiesCollection is not part of Core. */
	assert_null(strstr(core, "<Title>"));
	assert_int_equal(count_str(core, "<UpdateIdentity "), 1 + 10 + 4 + 124);
	assert_non_null(strstr(ext, "<SupportUrl>https://go.microsoft.com/fwlink/?LinkId=52661</SupportUrl>"
				    "<KBArticleID>2267602</KBArticleID></ExtendedProperties>"));
	wsus_update_free(u);
}

/* 1.4 applicability rules of 266f6222: BaseApplicabilityRules become b., logical rules plain */
static void test_core_rule_prefixes(void **state)
{
	size_t len;
	char *xml = load("266f6222-c89d-43f2-9f8a-69340271e677-r200.xml", &len);
	struct wsus_update *u = parse_xml(xml, len);
	const char *core = frag(u, WSUS_FRAG_CORE, NULL)->xml;

	(void)state;
	assert_non_null(strstr(core, "<ApplicabilityRules><IsInstalled><And><Not><b.RegDword "
				     "Key=\"HKEY_LOCAL_MACHINE\" Subkey=\"SOFTWARE\\Microsoft\\Windows Defender"
				     "\\Signature Updates\" Value=\"SignatureType\" Comparison=\"EqualTo\""
				     " Data=\"1\" /></Not>"));
	assert_int_equal(count_str(core, "<b.RegDword "), count_str(xml, "<bar:RegDword "));
	assert_int_equal(count_str(core, "<b.FileVersionPrependRegSz "),
			 count_str(xml, "<bar:FileVersionPrependRegSz "));
	assert_int_equal(count_str(core, "<b.LicenseDword "), 1);
	assert_int_equal(count_str(core, "<And>"), count_str(xml, "<lar:And"));
	assert_null(strstr(core, "bar:"));
	assert_null(strstr(core, "lar:"));
	assert_null(strstr(core, "<b.And"));
	/* Files and HandlerSpecificData belong to Extended. */
	assert_null(strstr(core, "<Files>"));
	assert_null(strstr(core, "HandlerSpecificData"));
	free(xml);
	wsus_update_free(u);
}

/* 2.1 Extended of 266f6222, exactly: ExtendedProperties, the file with its SHA-256, the handler data */
static void test_extended_exact_leaf(void **state)
{
	struct wsus_update *u = parse_doc("266f6222-c89d-43f2-9f8a-69340271e677-r200.xml");

	(void)state;
	assert_string_equal(frag(u, WSUS_FRAG_EXTENDED, NULL)->xml,
		"<ExtendedProperties DefaultPropertiesLanguage=\"en\""
		" Handler=\"http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/CommandLineInstallation\""
		" MaxDownloadSize=\"11606440\" MinDownloadSize=\"0\">"
		"<InstallationBehavior Impact=\"Minor\" /></ExtendedProperties>"
		"<Files><File Digest=\"h/W9BGlYUAaqXTp30cZi/SiV3c0=\" DigestAlgorithm=\"SHA1\""
		" FileName=\"AM_Delta.exe\" Size=\"11606440\" Modified=\"2026-10-04T09:39:26Z\">"
		"<AdditionalDigest Algorithm=\"SHA256\">Amt0qymy5KsROiwIXm4QIIV75Ju4r+Cl28Pg8gaLXUA="
		"</AdditionalDigest></File></Files>"
		"<HandlerSpecificData type=\"cmd:CommandLineInstallation\">"
		"<InstallCommand Program=\"AM_Delta.exe\" Arguments=\"WD /q\">"
		"<ReturnCode Code=\"0\" Result=\"Succeeded\" /></InstallCommand></HandlerSpecificData>");
	wsus_update_free(u);
}

/* 2.2 Extended of every document: ExtendedProperties root without the dropped attributes */
static void test_extended_all_docs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(doc_names) / sizeof(doc_names[0]); i++) {
		struct wsus_update *u = parse_doc(doc_names[i]);
		const struct wsus_fragment *x = frag(u, WSUS_FRAG_EXTENDED, NULL);
		xmlDocPtr d;
		const xmlNode *first;

		assert_ptr_equal(x, &u->fragments[1]);
		assert_int_equal(count_type(u, WSUS_FRAG_EXTENDED), 1);
		assert_memory_equal(x->xml, "<ExtendedProperties", 19);
		assert_null(strstr(x->xml, "xmlns"));
		assert_null(strstr(x->xml, "<Properties"));
		d = wrap_parse(x->xml);
		assert_no_namespaces(xmlDocGetRootElement(d));
		first = xmlDocGetRootElement(d)->children;
		assert_string_equal((const char *)first->name, "ExtendedProperties");
		for (const xmlAttr *a = first->properties; a != NULL; a = a->next)
			assert_false(in_list(extended_dropped, 12, (const char *)a->name));
		assert_non_null(xmlHasProp(first, (const xmlChar *)"DefaultPropertiesLanguage"));
		if (u->n_files > 0)
			assert_non_null(strstr(x->xml, "<AdditionalDigest Algorithm=\"SHA256\">"));
		xmlFreeDoc(d);
		wsus_update_free(u);
	}
}

/* 3.1 one LocalizedProperties per language, addressed by its Language text */
static void test_localized_per_language(void **state)
{
	static const char *const langs[] = {
		"ar", "cs", "da", "de", "el", "en", "es", "fi", "fr", "he", "hu", "it",
		"ja", "ko", "nl", "no", "pl", "pt", "pt-br", "ru", "sv", "tr", "zh-cn", "zh-tw",
	};
	struct wsus_update *u = parse_doc("56309036-4c77-4dd9-951a-99ee9c246a94-r101.xml");
	struct wsus_update *b = parse_doc("a2fef9b0-7951-4c2c-a42b-9e351dd1c1fe-r200.xml");
	const struct wsus_fragment *ar;

	(void)state;
	assert_int_equal(count_type(u, WSUS_FRAG_LOCALIZED), 24);
	assert_int_equal(u->n_fragments, 2 + 24);
	for (size_t i = 0; i < 24; i++) {
		const struct wsus_fragment *f = &u->fragments[2 + i];
		char want[256];

		assert_int_equal(f->type, WSUS_FRAG_LOCALIZED);
		assert_string_equal(f->locale, langs[i]);
		snprintf(want, sizeof(want), "<LocalizedProperties><Language>%s</Language>"
			 "<Title>Microsoft</Title><Description>Microsoft</Description></LocalizedProperties>",
			 langs[i]);
		assert_string_equal(f->xml, want);
	}
	assert_int_equal(count_type(b, WSUS_FRAG_LOCALIZED), 35);
	assert_int_equal(count_type(b, WSUS_FRAG_EULA), 0);
	assert_string_equal(b->fragments[2].locale, "en");
	ar = frag(b, WSUS_FRAG_LOCALIZED, "ar");
	assert_non_null(ar);
	/* UTF-8 text passes through untouched. */
	assert_non_null(strstr(ar->xml, "<Title>\xd8\xaa\xd8\xad\xd8\xaf\xd9\x8a\xd8\xab "));
	assert_non_null(strstr(ar->xml, "<MoreInfoUrl>https://go.microsoft.com/fwlink/?linkid=2007160</MoreInfoUrl>"));
	wsus_update_free(u);
	wsus_update_free(b);
}

#define UPD_NS "http://schemas.microsoft.com/msus/2002/12/Update"

static const char eula_doc[] =
	"<Update xmlns=\"" UPD_NS "\">"
	"<UpdateIdentity UpdateID=\"11111111-2222-3333-4444-555555555555\" RevisionNumber=\"1\" />"
	"<Properties UpdateType=\"Software\" EulaID=\"AAAAAAAA-2222-3333-4444-555555555555\""
	" DefaultPropertiesLanguage=\"en\" />"
	"<LocalizedPropertiesCollection>"
	"<LocalizedProperties><Language>en</Language><Title>T</Title></LocalizedProperties>"
	"<EulaFile Digest=\"h/W9BGlYUAaqXTp30cZi/SiV3c0=\" DigestAlgorithm=\"SHA1\" FileName=\"eula_de.txt\""
	" Size=\"100\" Language=\"de\">"
	"<AdditionalDigest Algorithm=\"SHA256\">Amt0qymy5KsROiwIXm4QIIV75Ju4r+Cl28Pg8gaLXUA=</AdditionalDigest>"
	"</EulaFile>"
	"<EulaFile Digest=\"vXidQqLgJwCO4+fE++5nIN1txMk=\" DigestAlgorithm=\"SHA1\" FileName=\"eula_fr.txt\""
	" Size=\"90\" Language=\"fr\" GeoId=\"FRA\" />"
	"</LocalizedPropertiesCollection>"
	"</Update>";

/* 3.2 one Eula fragment per EulaFile, addressed by its Language attribute; EulaID stays in Core */
static void test_eula_fragments(void **state)
{
	struct wsus_update *u = parse_xml(eula_doc, strlen(eula_doc));

	(void)state;
	assert_int_equal(u->n_fragments, 5);
	assert_int_equal(u->fragments[2].type, WSUS_FRAG_LOCALIZED);
	assert_int_equal(u->fragments[3].type, WSUS_FRAG_EULA);
	assert_string_equal(u->fragments[3].locale, "de");
	assert_string_equal(u->fragments[3].xml,
		"<EulaFile Digest=\"h/W9BGlYUAaqXTp30cZi/SiV3c0=\" DigestAlgorithm=\"SHA1\""
		" FileName=\"eula_de.txt\" Size=\"100\" Language=\"de\">"
		"<AdditionalDigest Algorithm=\"SHA256\">Amt0qymy5KsROiwIXm4QIIV75Ju4r+Cl28Pg8gaLXUA="
		"</AdditionalDigest></EulaFile>");
	assert_string_equal(u->fragments[4].locale, "fr");
	assert_non_null(strstr(u->fragments[4].xml, " GeoId=\"FRA\" />"));
	assert_non_null(strstr(u->fragments[0].xml,
			       "<Properties UpdateType=\"Software\" EulaID=\"AAAAAAAA-2222-3333-4444-555555555555\" />"));
	assert_null(strstr(u->fragments[1].xml, "EulaID"));
	assert_string_equal(u->eula_id, "aaaaaaaa-2222-3333-4444-555555555555");
	wsus_update_free(u);
}

static const char driver_doc[] =
	"<upd:Update xmlns:upd=\"" UPD_NS "\""
	" xmlns:drv=\"http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/WindowsDriver\""
	" xmlns:msiar=\"http://schemas.microsoft.com/msus/2002/12/MsiApplicabilityRules\""
	" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">"
	"<upd:UpdateIdentity UpdateID=\"0b9b36f5-1d2e-4c3b-8a7f-0123456789ab\" RevisionNumber=\"2\" />"
	"<upd:Properties UpdateType=\"Driver\" DefaultPropertiesLanguage=\"en\" PerUser=\"false\""
	" Handler=\"http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/WindowsDriver\" />"
	"<upd:ApplicabilityRules>"
	"<upd:IsInstalled><drv:WindowsDriverInstalled /></upd:IsInstalled>"
	"<upd:IsInstallable><msiar:MsiProductInstalled ProductCode=\"{12345678-1234-1234-1234-123456789012}\" />"
	"</upd:IsInstallable>"
	"<upd:Metadata>"
	"<drv:WindowsDriverMetaData HardwareID=\"PCI\\VEN_8086&amp;DEV_1234\" WhqlDriverID=\"42\""
	" Manufacturer=\"M\" Provider=\"P\" Model=\"X\" Class=\"Net\" DriverVerDate=\"2024-03-01\""
	" DriverVerVersion=\"1.2.3.4\">"
	"<drv:FeatureScore OperatingSystem=\"amd64.10.0\" FeatureScore=\"3\" />"
	"<drv:TargetComputerHardwareId>11111111-2222-3333-4444-555555555555</drv:TargetComputerHardwareId>"
	"</drv:WindowsDriverMetaData>"
	"</upd:Metadata>"
	"</upd:ApplicabilityRules>"
	"<upd:HandlerSpecificData xsi:type=\"drv:WindowsDriver\">"
	"<drv:WindowsDriver InfFile=\"nic.inf\" />"
	"</upd:HandlerSpecificData>"
	"</upd:Update>";

/* 4.1 driver and MSI rule elements get d. and m.; Core carries driver metadata without its children */
static void test_driver_prefixes(void **state)
{
	struct wsus_update *u = parse_xml(driver_doc, strlen(driver_doc));
	const char *core = frag(u, WSUS_FRAG_CORE, NULL)->xml;
	const char *ext = frag(u, WSUS_FRAG_EXTENDED, NULL)->xml;
	xmlDocPtr d;

	(void)state;
	assert_int_equal(u->n_drivers, 1);
	assert_int_equal(u->drivers[0].n_scores, 1);
	assert_non_null(strstr(core, "<IsInstalled><d.WindowsDriverInstalled /></IsInstalled>"));
	assert_non_null(strstr(core, "<IsInstallable><m.MsiProductInstalled"
				     " ProductCode=\"{12345678-1234-1234-1234-123456789012}\" /></IsInstallable>"));
	assert_non_null(strstr(core, "<Metadata><d.WindowsDriverMetaData HardwareID=\"PCI\\VEN_8086&amp;DEV_1234\""
				     " WhqlDriverID=\"42\" Manufacturer=\"M\" Provider=\"P\" Model=\"X\" Class=\"Net\""
				     " DriverVerDate=\"2024-03-01\" DriverVerVersion=\"1.2.3.4\" /></Metadata>"));
	assert_null(strstr(core, "FeatureScore"));
	assert_null(strstr(core, "TargetComputerHardwareId"));
	assert_null(strstr(core, "drv:"));
	assert_null(strstr(core, "msiar:"));
	/* Extended uses the same renaming; PerUser is dropped there. */
	assert_string_equal(ext,
		"<ExtendedProperties DefaultPropertiesLanguage=\"en\""
		" Handler=\"http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/WindowsDriver\" />"
		"<HandlerSpecificData type=\"drv:WindowsDriver\"><d.WindowsDriver InfFile=\"nic.inf\" />"
		"</HandlerSpecificData>");
	d = wrap_parse(core);
	xmlFreeDoc(d);
	wsus_update_free(u);
}

static const char escape_doc[] =
	"<upd:Update xmlns:upd=\"" UPD_NS "\""
	" xmlns:bar=\"http://schemas.microsoft.com/msus/2002/12/BaseApplicabilityRules\">"
	"<upd:UpdateIdentity UpdateID=\"0b9b36f5-1d2e-4c3b-8a7f-0123456789ab\" RevisionNumber=\"9\" />"
	"<upd:Properties UpdateType=\"Detectoid\"></upd:Properties>"
	"<upd:LocalizedPropertiesCollection><upd:LocalizedProperties><upd:Language>en</upd:Language>"
	"<upd:Title>x &lt; y &amp; z <![CDATA[<raw>&]]> q&gt;r</upd:Title>"
	"</upd:LocalizedProperties></upd:LocalizedPropertiesCollection>"
	"<upd:ApplicabilityRules><upd:IsInstalled>"
	"<!-- a comment the client does not need -->"
	"<bar:RegSz Key=\"HKEY_LOCAL_MACHINE\" Subkey=\"A&amp;B\" Value=\"&lt;v&gt;\" "
	"Data=\"say &quot;hi&quot;&#9;now&#10;\" Comparison=\"EqualTo\"></bar:RegSz>"
	"</upd:IsInstalled></upd:ApplicabilityRules>"
	"</upd:Update>";

/* 5.1 escaping in attributes and text; CDATA written as text; comments dropped;
 *     elements written empty as "<X ... />"; the wrapped result reads back the same values */
static void test_escaping_and_empty_elements(void **state)
{
	struct wsus_update *u = parse_xml(escape_doc, strlen(escape_doc));
	const char *core = frag(u, WSUS_FRAG_CORE, NULL)->xml;
	const char *loc = frag(u, WSUS_FRAG_LOCALIZED, "en")->xml;
	xmlDocPtr d;
	const xmlNode *rule;
	xmlChar *v;

	(void)state;
	assert_string_equal(core,
		"<UpdateIdentity UpdateID=\"0b9b36f5-1d2e-4c3b-8a7f-0123456789ab\" RevisionNumber=\"9\" />"
		"<Properties UpdateType=\"Detectoid\" />"
		"<ApplicabilityRules><IsInstalled><b.RegSz Key=\"HKEY_LOCAL_MACHINE\" Subkey=\"A&amp;B\""
		" Value=\"&lt;v&gt;\" Data=\"say &quot;hi&quot;&#x9;now&#xA;\" Comparison=\"EqualTo\" />"
		"</IsInstalled></ApplicabilityRules>");
	assert_string_equal(loc,
		"<LocalizedProperties><Language>en</Language>"
		"<Title>x &lt; y &amp; z &lt;raw&gt;&amp; q&gt;r</Title></LocalizedProperties>");
	d = wrap_parse(core);
	rule = xmlDocGetRootElement(d)->children->next->next->children->children;
	assert_string_equal((const char *)rule->name, "b.RegSz");
	v = xmlGetProp(rule, (const xmlChar *)"Data");
	assert_string_equal((const char *)v, "say \"hi\"\tnow\n");
	xmlFree(v);
	xmlFreeDoc(d);
	wsus_update_free(u);
}

/* 5.2 "<upd:Properties ...></upd:Properties>" of the real ccb78947 comes out as "<Properties ... />" */
static void test_real_empty_properties(void **state)
{
	struct wsus_update *u = parse_doc("ccb78947-6453-4ecc-9de8-bc0305c98f2d-r200.xml");

	(void)state;
	assert_non_null(strstr(frag(u, WSUS_FRAG_CORE, NULL)->xml,
			       "RevisionNumber=\"200\" /><Properties UpdateType=\"Software\" /><Relationships>"));
	assert_string_equal(frag(u, WSUS_FRAG_EXTENDED, NULL)->xml,
			    "<ExtendedProperties DefaultPropertiesLanguage=\"en\" />");
	wsus_update_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_shape_all_docs),
		cmocka_unit_test(test_core_exact_category),
		cmocka_unit_test(test_core_properties_filtered),
		cmocka_unit_test(test_core_rule_prefixes),
		cmocka_unit_test(test_extended_exact_leaf),
		cmocka_unit_test(test_extended_all_docs),
		cmocka_unit_test(test_localized_per_language),
		cmocka_unit_test(test_eula_fragments),
		cmocka_unit_test(test_driver_prefixes),
		cmocka_unit_test(test_escaping_and_empty_elements),
		cmocka_unit_test(test_real_empty_properties),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
