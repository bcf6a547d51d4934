/* The service point table and the handler's region → service point rule.
 * Source: DOMAIN.md §4 (nineteen offices, one provincial queue) and the
 * portal's appendix 1 (附件一, shared seeds), which lists each office by the
 * city (市州) it stands in. Kunming has two offices: the first (高新区)
 * serves the city; the second (呈贡) and Kungang's (昆钢, the steel group's
 * office in Anning) get orders only when a reviewer assigns them
 * (ukeyctl order set-service-point). Tengchong's office serves the
 * county-level city of 腾冲 inside Baoshan. */
#include <string.h>

#include "common/svcpoint.h"

#define NONE ((const char *const[]){ NULL })
#define LIST(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const struct svcpoint table[] = {
	{ "kunming-1", "昆明（省交易大厦）", "昆明市高新区科高路799号省交易大厦1楼大厅",
	    LIST("昆明"), NONE },
	{ "kunming-2", "昆明（呈贡）", "昆明市呈贡新区市级行政中心锦绣大街1号综合服务楼二楼",
	    NONE, NONE },
	{ "chuxiong", "楚雄", "楚雄市永安路696号政务服务中心6楼交易服务大厅", LIST("楚雄"), NONE },
	{ "dehong", "德宏", "德宏州芒市文蚌街中段中缅友谊馆二楼", LIST("德宏"), NONE },
	{ "tengchong", "腾冲", "腾冲市腾越镇西山坝政务服务中心五楼", LIST("腾冲"), LIST("腾冲") },
	{ "dali", "大理", "大理州下关镇万花路东段政务服务大楼主楼四楼", LIST("大理"), NONE },
	{ "baoshan", "保山", "保山市隆阳区兰城路永昌传媒大厦2号楼A座4楼", LIST("保山"), NONE },
	{ "lincang", "临沧", "临沧市临翔区沧江北路一号便民服务中心三楼大厅", LIST("临沧"), NONE },
	{ "lijiang", "丽江", "丽江市古城区民航路二号", LIST("丽江"), NONE },
	{ "diqing", "迪庆", "迪庆州香格里拉市建塘镇康珠大道州民族体育馆五号门一楼",
	    LIST("迪庆"), NONE },
	{ "nujiang", "怒江", "怒江州泸水市怒江大道同心路82号怒江州政务服务中心", LIST("怒江"),
	    NONE },
	{ "puer", "普洱", "普洱市思茅区北部新区普洱大道与石龙路交叉口", LIST("普洱"), NONE },
	{ "qujing", "曲靖", "曲靖市麒麟区寥廓南路南延线官房大酒店西侧", LIST("曲靖"), NONE },
	{ "wenshan", "文山", "文山市华龙北路2号文山州公共资源交易中心四楼大厅", LIST("文山"),
	    NONE },
	{ "yuxi", "玉溪", "玉溪市红塔区玉龙路2号玉溪市政务服务中心", LIST("玉溪"), NONE },
	{ "honghe", "红河", "蒙自市振兴路红河政务服务大楼", LIST("红河"), NONE },
	{ "xishuangbanna", "版纳", "西双版纳州景洪市曼弄枫国际会展便民中心二楼",
	    LIST("西双版纳", "版纳"), NONE },
	{ "zhaotong", "昭通", "昭通市昭阳区镇雄路北侧昭通“市民之家”二楼大厅", LIST("昭通"),
	    NONE },
	{ "kungang", "昆钢", "云南省昆明市安宁市昆钢物流园", NONE, NONE },
};

#define TABLE_LEN (sizeof(table) / sizeof(table[0]))

const struct svcpoint *
svcpoint_all(size_t *n)
{
	*n = TABLE_LEN;
	return table;
}

const struct svcpoint *
svcpoint_find(const char *id)
{
	size_t i;

	for (i = 0; id != NULL && i < TABLE_LEN; i++)
		if (strcmp(table[i].id, id) == 0)
			return &table[i];
	return NULL;
}

static int
begins_with_any(const char *s, const char *const *prefixes)
{
	size_t i;

	for (i = 0; s != NULL && prefixes[i] != NULL; i++)
		if (strncmp(s, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	return 0;
}

const struct svcpoint *
svcpoint_for_region(const char *province, const char *city, const char *county)
{
	size_t i;

	/* the portal serves one province: another one's handler has no point
	 * here (an empty province is taken as this one) */
	if (province != NULL && province[0] != '\0' && strncmp(province, "云南", 6) != 0)
		return NULL;
	for (i = 0; i < TABLE_LEN; i++)
		if (begins_with_any(county, table[i].counties))
			return &table[i];
	for (i = 0; i < TABLE_LEN; i++)
		if (begins_with_any(city, table[i].cities))
			return &table[i];
	return NULL;
}

static const char *const take_names[] = {
	[SVCPOINT_TAKE_ANY] = "any",
	[SVCPOINT_TAKE_OWN_FIRST] = "own-first",
	[SVCPOINT_TAKE_OWN] = "own",
};

int
svcpoint_take_parse(const char *s)
{
	size_t i;

	for (i = 0; s != NULL && i < sizeof(take_names) / sizeof(take_names[0]); i++)
		if (strcmp(s, take_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
svcpoint_take_name(int take)
{
	if (take < 0 || (size_t)take >= sizeof(take_names) / sizeof(take_names[0]))
		return "?";
	return take_names[take];
}
