/*
 * mn_main.c: `ctpmn esp` on its own, for tests/esp/run.sh while ctpmn's
 * command table (src/ctpmn/ctpmn.c) does not list "esp" yet: the same code
 * (src/ctpmn/ctpmn_esp.c), called the way ctpmn calls its commands, with
 * argv[0] = "esp".
 */
int ctpmn_esp_main(int argc, char **argv);

int
main(int argc, char **argv)
{
	return ctpmn_esp_main(argc - 1, argv + 1);
}
